#!/usr/bin/env bash
# Writes tests/data/namespace-v1.rdb: one namespace ("fixture") in TaskDB's stored form,
# encoding version 1, with streams of two worker types, jobs in every state and tasks in
# every state (ids and times fixed through the RESTORE commands). tests/it/stored.rs loads
# it and checks what it holds. Run once per encoding version: a later version adds its
# own file and keeps this one, so every version TaskDB ever wrote stays readable.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build -q -p taskdb
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --dir "$dir" --save '' --appendonly no \
  --loadmodule "$PWD/target/debug/libtaskdb.so" --daemonize yes --logfile "$dir/log"
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
r() { redis-cli -p "$port" "$@" >/dev/null; }
S1=5b0e7a52-3a8e-4f5a-9d0a-000000000001
S2=5b0e7a52-3a8e-4f5a-9d0a-000000000002
J1=5b0e7a52-3a8e-4f5a-9d0a-0000000000a1
J2=5b0e7a52-3a8e-4f5a-9d0a-0000000000a2
J3=5b0e7a52-3a8e-4f5a-9d0a-0000000000a3
J4=5b0e7a52-3a8e-4f5a-9d0a-0000000000a4
T=1700000000000
r TASKDB.RESTORE_STREAM fixture $S1 cpu 2 1.5 alice
r TASKDB.RESTORE_STREAM fixture $S2 gpu 1 1 bob
r TASKDB.RESTORE_JOB fixture $J1 running alice $T
r TASKDB.RESTORE_TASK fixture $J1 init $S1 '{"image":"app.elf"}' '[]' done 3 60 $T \
  STARTED_AT $((T + 10)) UPDATED_AT $((T + 20)) OUTPUT '{"segments":2}' ATTEMPT 1
r TASKDB.RESTORE_TASK fixture $J1 seg_0 $S2 '{"segment":0}' '["init"]' running 3 60 $((T + 21)) \
  STARTED_AT $((T + 30)) UPDATED_AT $((T + 40)) PROGRESS 0.5 RETRIES 1 ATTEMPT 2 WORKER gpu-7
r TASKDB.RESTORE_TASK fixture $J1 seg_1 $S2 '{"segment":1}' '["init"]' ready 3 60 $((T + 22))
r TASKDB.RESTORE_TASK fixture $J1 join $S1 '{"join":[0,1]}' '["seg_0","seg_1"]' pending 3 60 $((T + 23)) \
  WAITING_ON 2
r TASKDB.RESTORE_JOB fixture $J2 done bob $((T + 100))
r TASKDB.RESTORE_TASK fixture $J2 init $S2 '{}' '[]' done 0 30 $((T + 100)) \
  STARTED_AT $((T + 110)) UPDATED_AT $((T + 120)) OUTPUT '{}'
r TASKDB.RESTORE_JOB fixture $J3 failed alice $((T + 200)) ERROR boom
r TASKDB.RESTORE_TASK fixture $J3 init $S1 '{}' '[]' failed 0 30 $((T + 200)) \
  STARTED_AT $((T + 210)) UPDATED_AT $((T + 220)) ERROR boom
r TASKDB.RESTORE_TASK fixture $J3 next $S1 '{}' '["init"]' cancelled 0 30 $((T + 201))
r TASKDB.CREATE_JOB fixture $S1 '{"urgent":true}' 5 120 carol ID $J4 PRIORITY high
r SAVE
cp "$dir/dump.rdb" tests/data/namespace-v1.rdb
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
rm -rf "$dir"
echo "wrote tests/data/namespace-v1.rdb"
