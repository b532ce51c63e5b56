#!/usr/bin/env python3
"""Drives a redis-server (e.g. under callgrind) with N CREATE_TASK, then N REQUEST_WORK+DONE.

Usage: drive.py PORT [N]. Speaks RESP over a raw socket (no client library needed) and
pipelines each phase, so the server's instruction counts are per call of each command.
"""
import socket
import sys

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
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
        data = f.read(ln + 2)[:-2]
        return data
    if t == b"*":
        ln = int(rest)
        return None if ln < 0 else [read() for _ in range(ln)]
    raise RuntimeError(line)


def call(*args):
    s.sendall(enc(*args))
    return read()


def pipeline(cmds):
    s.sendall(b"".join(enc(*c) for c in cmds))
    return [read() for _ in cmds]


import os
ns = "p%d" % os.getpid()
st = call("TASKDB.CREATE_STREAM", ns, "cpu", 1, 1.0, "u").decode()
job = call("TASKDB.CREATE_JOB", ns, st, '{"init":1}', 0, 3600, "u").decode()
call("CONFIG", "RESETSTAT")
defn = '{"def":"%s"}' % ("x" * 90)  # 100 bytes of JSON
pipeline([("TASKDB.CREATE_TASK", ns, job, "t%d" % i, st, defn, "[]", 3, 60) for i in range(n)])
for i in range(n + 1):  # the tasks and the job's init
    w = call("TASKDB.REQUEST_WORK", ns, "cpu")
    call("TASKDB.DONE", ns, w[0].decode(), w[1].decode(), "{}")
info = call("INFO", "commandstats").decode()
print("\n".join(l for l in info.splitlines() if "taskdb" in l.lower()))
