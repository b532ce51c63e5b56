#!/usr/bin/env python3
"""Drives a redis-server (e.g. under callgrind) with N CREATE_TASK (pipelined), then N
REQUEST_WORK + DONE pairs (unpipelined, one connection): N task lives with 100-byte task
definitions.

Usage: drive.py PORT [N] [--zero CMD] [--dump CMD] [--native]
  --zero/--dump: shell commands run right before and after the measured phase (the
  callgrind script zeroes and dumps the server's counters with them).
  --native: the floor instead of TaskDB: RPUSH per task, then LPOP + HSET per task.
Speaks RESP over a raw socket (no client library needed).
"""
import os
import socket
import subprocess
import sys

args = sys.argv[1:]
opts = {}
for flag in ("--zero", "--dump"):
    if flag in args:
        i = args.index(flag)
        opts[flag] = args[i + 1]
        del args[i : i + 2]
native = "--native" in args
if native:
    args.remove("--native")
port = int(args[0])
n = int(args[1]) if len(args) > 1 else 1000
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


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
        ln = int(rest)
        if ln < 0:
            return None
        return f.read(ln + 2)[:-2]
    if t == b"*":
        ln = int(rest)
        return None if ln < 0 else [read() for _ in range(ln)]
    raise RuntimeError(line)


def call(*a):
    s.sendall(enc(*a))
    return read()


def pipeline(cmds):
    s.sendall(b"".join(enc(*c) for c in cmds))
    return [read() for _ in cmds]


def hook(name):
    if name in opts:
        subprocess.run(opts[name], shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


ns = "p%d" % os.getpid()
defn = '{"def":"%s"}' % ("x" * 90)  # 100 bytes of JSON
if native:
    hook("--zero")
    pipeline([("RPUSH", ns + ":q", "%s:t%d" % (ns, i)) for i in range(n)])
    for i in range(n):
        t = call("LPOP", ns + ":q")
        call("HSET", t, "state", "done", "output", "{}")
    hook("--dump")
    sys.exit(0)
st = call("TASKDB.CREATE_STREAM", ns, "cpu", 1, 1.0, "u").decode()
job = call("TASKDB.CREATE_JOB", ns, st, '{"init":1}', 0, 3600, "u").decode()
init = call("TASKDB.REQUEST_WORK", ns, "cpu")  # held until the end: the job stays open
call("CONFIG", "RESETSTAT")
hook("--zero")
pipeline([("TASKDB.CREATE_TASK", ns, job, "t%d" % i, st, defn, "[]", 3, 60) for i in range(n)])
for i in range(n):
    w = call("TASKDB.REQUEST_WORK", ns, "cpu")
    call("TASKDB.DONE", ns, w[0].decode(), w[1].decode(), "{}")
hook("--dump")
call("TASKDB.DONE", ns, init[0].decode(), init[1].decode(), "{}")
