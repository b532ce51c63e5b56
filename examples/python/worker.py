#!/usr/bin/env python3
"""A TaskDB worker in Python (redis-py): claims tasks of one worker type, runs them and
reports, until it has been idle for a while.

    python3 worker.py --url redis://127.0.0.1:6379 --ns prod --type cpu --id cpu-1

A task's definition is JSON; this worker understands three kinds (what the submitter
example creates): {"segments": k} (the init task: it answers how many segments to
prove), {"segment": i} (answers i squared) and {"join": true} (sums its prerequisites'
outputs, read with TASK_OUTPUT).
"""
import argparse
import json
import sys
import time

import redis

from taskdb_py import connect, record


def run(r, ns, job, task, definition, prereqs):
    """Does the work of one task; its output."""
    d = json.loads(definition)
    if "segments" in d:
        return {"segments": d["segments"]}
    if "segment" in d:
        return {"value": d["segment"] ** 2}
    if d.get("join"):
        total = 0
        for p in json.loads(prereqs):
            total += json.loads(r.execute_command("TASKDB.TASK_OUTPUT", ns, job, p))["value"]
        return {"sum": total}
    raise ValueError("unknown task definition %r" % definition)


def give_back_lost_claims(r, ns, worker_id):
    """Gives back (GIVE_BACK ... ATTEMPT n) every task leased to this worker that it is not
    working on: claims whose reply a dropped connection lost, or left by a crash of a
    worker with the same id. They are ready again at once instead of after their lease,
    and no retry is counted."""
    given = 0
    for lease in r.execute_command("TASKDB.LEASES", ns, "COUNT", 10000):
        lease = record(lease)
        if lease.get("worker_id") == worker_id:
            r.execute_command(
                "TASKDB.GIVE_BACK", ns, lease["job_id"], lease["task_id"], "ATTEMPT", lease["attempt"]
            )
            given += 1
    return given


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379")
    ap.add_argument("--protocol", type=int, default=2, choices=[2, 3])
    ap.add_argument("--ns", default="prod")
    ap.add_argument("--type", default="cpu", help="worker type")
    ap.add_argument("--id", default="py-worker", help="this worker's id (its leases' holder)")
    ap.add_argument("--idle-exit", type=float, default=5.0, help="exit after this many idle seconds")
    a = ap.parse_args()
    r = connect(a.url, a.protocol)
    given = give_back_lost_claims(r, a.ns, a.id)
    if given:
        print("gave back %d task(s) claimed before a lost reply" % given, flush=True)
    done, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < a.idle_exit:
        try:
            claim = r.execute_command(
                "TASKDB.REQUEST_WORK", a.ns, a.type, "BLOCK", 500, "WORKER", a.id
            )
        except redis.ConnectionError:
            # The reply may have been lost with a task claimed: reconnect, give it back.
            time.sleep(0.5)
            r = connect(a.url, a.protocol)
            give_back_lost_claims(r, a.ns, a.id)
            continue
        if claim is None:
            continue
        job, task, definition, prereqs, _max_retries, attempt = claim
        try:
            output = run(r, a.ns, job, task, definition, prereqs)
        except Exception as e:  # a task that cannot be done fails, with the reason
            r.execute_command("TASKDB.FAILED", a.ns, job, task, str(e), "ATTEMPT", attempt)
            continue
        # ATTEMPT fences the report: if this attempt's lease ran out and the task went to
        # another worker, the first result still wins and a stale FAILED changes nothing.
        r.execute_command("TASKDB.DONE", a.ns, job, task, json.dumps(output), "ATTEMPT", attempt)
        done += 1
        idle_since = time.monotonic()
    print("worker %s: %d task(s) done" % (a.id, done), flush=True)


if __name__ == "__main__":
    sys.exit(main())
