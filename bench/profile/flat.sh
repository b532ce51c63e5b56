#!/usr/bin/env bash
# Flatness: instructions per REQUEST_WORK and per DONE (inside module commands, under
# callgrind) as the queue, the number of streams and the size of one job grow. Each point
# runs on a fresh server: fill with instrumentation off (valgrind runs it at a few times
# native cost), then CYCLES REQUEST_WORK + DONE pairs counted (bench/profile/flat.py).
# Usage: bench/profile/flat.sh [CYCLES] [POINTS...]  (a point is AXIS:SIZE, e.g. queued:1000;
# default: queued 10^3..10^7, streams 10..10^5, job 16..10^5)
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles=${1:-2000}
shift || true
points=("$@")
if [ ${#points[@]} -eq 0 ]; then
  points=(queued:1000 queued:100000 queued:1000000 queued:10000000
          streams:10 streams:1000 streams:100000
          job:16 job:1000 job:100000)
fi
cargo build --release -q -p taskdb
module="$PWD/target/release/libtaskdb.so"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
printf '%-16s %14s %14s\n' point "REQUEST_WORK" "DONE"
for p in "${points[@]}"; do
  axis=${p%%:*} size=${p##*:}
  dir="$work/$axis-$size"
  mkdir -p "$dir"
  port=$(free_port)
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --instr-atstart=no \
    --toggle-collect='RedisModuleCommandDispatcher' \
    redis-server --port "$port" --dir "$dir" --save '' --appendonly no --loadmodule "$module" \
    >"$dir/vg.log" 2>&1 &
  vg=$!
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  start=$(date +%s)
  python3 bench/profile/flat.py "$port" "$axis" "$size" "$cycles" \
    --on "callgrind_control -i on $vg" --off "callgrind_control -i off $vg"
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait $vg || true
  callgrind_annotate --inclusive=yes "$dir/cg.out" >"$dir/inclusive.txt" 2>/dev/null
  per() { awk -v f="$1" -v n="$cycles" 'index($0, f) { gsub(",", "", $1); printf "%.0f", $1 / n; exit }' "$dir/inclusive.txt"; }
  printf '%-16s %14s %14s   (%ss)\n' "$p" "$(per 'taskdb::work::request_work ')" "$(per 'taskdb::work::done_cmd ')" "$(( $(date +%s) - start ))"
done
echo "call graphs: $work/*/inclusive.txt"
