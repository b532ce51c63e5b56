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
import socket
import subprocess
import sys

args = sys.argv[1:]
hooks = {}
for flag in ("--on", "--off"):
    i = args.index(flag)
    hooks[flag] = args[i + 1]
    del args[i : i + 2]
port, axis, size, cycles = int(args[0]), args[1], int(args[2]), int(args[3])
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
NS = b"flat"
DEF = b'{"def":"' + b"x" * 90 + b'"}'


def enc(*a):
    out = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)


def read():
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b":"):
        return rest
    if t == b"-":
        raise RuntimeError(rest.decode())
    if t == b"$":
        n = int(rest)
        return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*":
        n = int(rest)
        return None if n < 0 else [read() for _ in range(n)]
    raise RuntimeError(line)


def call(*a):
    s.sendall(enc(*a))
    return read()


def pipeline(cmds, batch=10000):
    for i in range(0, len(cmds), batch):
        part = cmds[i : i + batch]
        s.sendall(b"".join(enc(*c) for c in part))
        for _ in part:
            read()


def job_with(stream, n):
    """A job on `stream` whose init task and n-1 more are ready."""
    job = call(b"TASKDB.CREATE_JOB", NS, stream, DEF, 0, 3600, b"u")
    cmds = [
        (b"TASKDB.CREATE_TASK", NS, job, b"t%d" % i, stream, DEF, b"[]", 0, 3600)
        for i in range(1, n)
    ]
    pipeline(cmds)


def streams(n):
    out = []
    for i in range(0, n, 10000):
        k = min(10000, n - i)
        s.sendall(
            b"".join(enc(b"TASKDB.CREATE_STREAM", NS, b"W", 1, 1, b"u%d" % (i + j)) for j in range(k))
        )
        out.extend(read() for _ in range(k))
    return out


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
