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
import subprocess
import sys

from resp import Conn

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
conn = Conn(port)
call, pipeline = conn.call, conn.pipeline


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
