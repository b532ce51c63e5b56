#!/usr/bin/env python3
"""A TaskDB submitter in Python (redis-py): a planner that grows one job's DAG from its
results, and prints the answer.

    python3 submitter.py --url redis://127.0.0.1:6379 --ns prod --segments 4

It creates a job whose init task says how many segments to prove; once init is done it
adds a task per segment and a join depending on all of them (a done job reopens when
tasks are added), then waits for the job and prints the join's output.
"""
import argparse
import json
import sys
import time

from taskdb_py import connect, record


def wait_done(r, ns, job, user, timeout):
    """Waits until the job is done (or fails, or the time runs out); its state."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = r.execute_command("TASKDB.JOB_STATE", ns, job, user)
        if state != "running":
            return state
        time.sleep(0.02)
    return "running"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379")
    ap.add_argument("--protocol", type=int, default=2, choices=[2, 3])
    ap.add_argument("--ns", default="prod")
    ap.add_argument("--type", default="cpu", help="worker type of every task")
    ap.add_argument("--user", default="py-user")
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    r = connect(a.url, a.protocol)
    stream = r.execute_command("TASKDB.GET_OR_CREATE_STREAM", a.ns, a.type, 1, 1.0, a.user)
    init = json.dumps({"segments": a.segments})
    job = r.execute_command("TASKDB.CREATE_JOB", a.ns, stream, init, 3, 60, a.user)
    if wait_done(r, a.ns, job, a.user, a.timeout) != "done":
        print("init of job %s did not finish" % job, file=sys.stderr)
        return 1
    segments = json.loads(r.execute_command("TASKDB.TASK_OUTPUT", a.ns, job, "init"))["segments"]
    names = ["seg_%d" % i for i in range(segments)]
    for i, name in enumerate(names):
        r.execute_command(
            "TASKDB.CREATE_TASK", a.ns, job, name, stream, json.dumps({"segment": i}), '["init"]', 3, 60
        )
    r.execute_command(
        "TASKDB.CREATE_TASK", a.ns, job, "join", stream, '{"join":true}', json.dumps(names), 3, 60
    )
    state = wait_done(r, a.ns, job, a.user, a.timeout)
    if state != "done":
        print("job %s ended %s" % (job, state), file=sys.stderr)
        return 1
    join = record(r.execute_command("TASKDB.TASK", a.ns, job, "join"))
    print("job %s done: %s (attempt %s)" % (job, join["output"], join["attempt"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
