#!/usr/bin/env python3
"""Fills a redis-server with TaskDB work of one shape, then runs CYCLES unpipelined
REQUEST_WORK + DONE pairs between two hooks (the callgrind script turns instrumentation
on and off with them), so instructions per call can be compared across sizes.

Usage: flat.py PORT AXIS SIZE CYCLES --on CMD --off CMD
  AXIS queued   SIZE ready tasks in one stream (plus CYCLES, so the queue stays at least
                SIZE while measured), in jobs of 1,000
       streams  SIZE streams of one worker type, each with a job of CYCLES/SIZE+2 tasks
       job      SIZE tasks per job, in as many jobs as CYCLES needs (at least one)
Task definitions are 100 bytes. Speaks RESP over a raw socket.
"""
import subprocess
import sys

from resp import Conn

args = sys.argv[1:]
hooks = {}
for flag in ("--on", "--off"):
    i = args.index(flag)
    hooks[flag] = args[i + 1]
    del args[i : i + 2]
port, axis, size, cycles = int(args[0]), args[1], int(args[2]), int(args[3])
conn = Conn(port)
call, pipeline = conn.call, conn.pipeline
NS = b"flat"
DEF = b'{"def":"' + b"x" * 90 + b'"}'


def job_with(stream, n):
    """A job on `stream` whose init task and n-1 more are ready."""
    job = call(b"TASKDB.CREATE_JOB", NS, stream, DEF, 0, 3600, b"u")
    cmds = [
        (b"TASKDB.CREATE_TASK", NS, job, b"t%d" % i, stream, DEF, b"[]", 0, 3600)
        for i in range(1, n)
    ]
    pipeline(cmds)


def streams(n):
    return pipeline([(b"TASKDB.CREATE_STREAM", NS, b"W", 1, 1, b"u%d" % i) for i in range(n)])


if axis == "queued":
    (st,) = streams(1)
    made = 0
    while made < size + cycles:
        k = min(1000, size + cycles - made)
        job_with(st, k)
        made += k
        if made % 1_000_000 == 0:
            print("filled %d" % made, file=sys.stderr, flush=True)
elif axis == "streams":
    per = cycles // size + 2
    for st in streams(size):
        job_with(st, per)
elif axis == "job":
    (st,) = streams(1)
    made = 0
    while made < max(size, cycles):
        job_with(st, size)
        made += size
else:
    sys.exit("unknown axis " + axis)

subprocess.run(hooks["--on"], shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(cycles):
    w = call(b"TASKDB.REQUEST_WORK", NS, b"W")
    call(b"TASKDB.DONE", NS, w[0], w[1], b"{}")
subprocess.run(hooks["--off"], shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
