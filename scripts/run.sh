#!/usr/bin/env bash
# Builds TaskDB, starts redis-server with the module on 127.0.0.1:6379 (config: redis.conf,
# data in ./data), and runs a short demo job end to end through redis-cli.
# Stop the server with: redis-cli shutdown
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "==> building the module (release)"
cargo build --release --quiet
mkdir -p data

cli() { redis-cli -h 127.0.0.1 -p 6379 "$@"; }
if cli ping >/dev/null 2>&1; then
  if cli module list | grep -q taskdb; then
    echo "==> a redis-server with TaskDB already runs on 127.0.0.1:6379; using it"
  else
    echo "127.0.0.1:6379 is taken by a redis-server without TaskDB; stop it first" >&2
    exit 1
  fi
else
  echo "==> starting redis-server with TaskDB on 127.0.0.1:6379"
  redis-server redis.conf --daemonize yes --logfile "$PWD/data/redis.log"
  for _ in $(seq 1 100); do cli ping >/dev/null 2>&1 && break; sleep 0.1; done
  cli ping >/dev/null || { echo "redis-server did not start; see data/redis.log" >&2; exit 1; }
fi

echo "==> demo: one job, a DAG of 5 tasks, run to completion"
ns="demo-$(date +%s)"
run() { echo "> TASKDB.$1 $ns ${*:2}"; cli "TASKDB.$1" "$ns" "${@:2}"; }
cpu=$(cli TASKDB.CREATE_STREAM "$ns" cpu 1 1.0 alice); echo "cpu stream: $cpu"
gpu=$(cli TASKDB.CREATE_STREAM "$ns" gpu 1 1.0 alice); echo "gpu stream: $gpu"
job=$(cli TASKDB.CREATE_JOB "$ns" "$cpu" '{"image":"app.elf"}' 3 60 alice); echo "job: $job"
run CREATE_TASK "$job" seg_0 "$gpu" '{"segment":0}' '["init"]' 3 60
run CREATE_TASK "$job" seg_1 "$gpu" '{"segment":1}' '["init"]' 3 60
run CREATE_TASK "$job" join "$gpu" '{"join":[0,1]}' '["seg_0","seg_1"]' 3 60
run CREATE_TASK "$job" final "$cpu" '{}' '["join"]' 3 60
for wt in cpu gpu gpu gpu cpu; do
  claimed=$(cli TASKDB.REQUEST_WORK "$ns" "$wt" | sed -n 2p)
  echo "> TASKDB.REQUEST_WORK $ns $wt  -> $claimed"
  run DONE "$job" "$claimed" '{"ok":true}'
done
run JOB_STATE "$job" alice
run JOB_TIME "$job"
run STATS
run CHECK
echo "==> TaskDB is running on 127.0.0.1:6379 (stop it with: redis-cli shutdown)"
