#!/usr/bin/env bash
# Counts the server's instructions per TaskDB command under callgrind (stable on a noisy VM).
# Usage: bench/profile/callgrind.sh [N]   (needs valgrind; builds the release module first)
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
cargo build --release -q -p taskdb
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" --toggle-collect='RedisModuleCommandDispatcher' \
  redis-server --port "$port" --dir "$dir" --save '' --appendonly no \
  --hash-max-listpack-value 1024 --loadmodule "$PWD/target/release/libtaskdb.so" 2>"$dir/vg.log" &
vg=$!
for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.2; done
python3 bench/profile/drive.py "$port" "$n"
redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
wait $vg || true
echo "callgrind output: $dir/cg.out"
callgrind_annotate --inclusive=yes "$dir/cg.out" 2>/dev/null >"$dir/inclusive.txt"
# Instructions per call of the three commands of a task's life.
for f in tasks::create_task work::request_work work::done_cmd; do
  awk -v f="taskdb::$f " -v n="$n" 'index($0, f) { gsub(",", "", $1); printf "%-22s %7.0f instructions/call\n", f, $1 / n }' "$dir/inclusive.txt"
done
