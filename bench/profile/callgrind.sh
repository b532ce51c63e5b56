#!/usr/bin/env bash
# Counts the server's instructions per task life (CREATE_TASK + REQUEST_WORK + DONE, one
# connection, 100-byte definitions; bench/profile/drive.py) under callgrind, which is
# repeatable where wall time on a shared VM is not. Three runs:
#   dispatcher   only inside module commands (RedisModuleCommandDispatcher), standalone
#   server       the whole server during the measured phase, standalone
#   replica+aof  the whole server with a replica attached and appendfsync everysec
# and the floor: the whole server for RPUSH, then LPOP + HSET per task.
# Usage: bench/profile/callgrind.sh [N]   (N task lives, default 2000; needs valgrind)
# TASKDB_MODULE=/path/to/libtaskdb.so measures another build (an older commit, say).
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-2000}
if [ -z "${TASKDB_MODULE:-}" ]; then
  cargo build --release -q -p taskdb
fi
module="${TASKDB_MODULE:-$PWD/target/release/libtaskdb.so}"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 300); do redis-cli -p "$1" ping >/dev/null 2>&1 && return; sleep 0.1; done; echo "server on $1 did not start" >&2; exit 1; }

# Runs one measurement: $1 name, $2 "native" or "taskdb", $3 "replica" or "", then
# valgrind options. Prints instructions per task life.
run() {
  local name=$1 kind=$2 replica=$3; shift 3
  local dir="$work/$name" port rport=""
  mkdir -p "$dir"
  port=$(free_port)
  local extra=(--save '' --appendonly no)
  [ "$replica" = replica ] && extra=(--save '' --appendonly yes --appendfsync everysec)
  valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "$@" \
    redis-server --port "$port" --dir "$dir" "${extra[@]}" --loadmodule "$module" \
    >"$dir/vg.log" 2>&1 &
  local vg=$!
  wait_up "$port"
  if [ "$replica" = replica ]; then
    rport=$(free_port)
    mkdir -p "$dir/replica"
    redis-server --port "$rport" --dir "$dir/replica" --save '' --appendonly no \
      --loadmodule "$module" --replicaof 127.0.0.1 "$port" --daemonize yes \
      --logfile "$dir/replica/log"
    for _ in $(seq 600); do
      redis-cli -p "$rport" info replication 2>/dev/null | grep -q 'master_link_status:up' && break
      sleep 0.1
    done
  fi
  local hooks=()
  if [ "$name" != dispatcher ]; then
    hooks=(--zero "callgrind_control -z $vg" --dump "callgrind_control -d $vg")
  fi
  local flag=()
  [ "$kind" = native ] && flag=(--native)
  python3 bench/profile/drive.py "$port" "$n" "${hooks[@]}" "${flag[@]}"
  [ -n "$rport" ] && redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
  redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  wait $vg || true
  local out
  if [ "$name" = dispatcher ]; then
    out="$dir/cg.out"
  else
    # The dump taken right after the measured phase (callgrind_control -d).
    out=$(ls "$dir"/cg.out.* | sort -t. -k3 -n | head -1)
  fi
  callgrind_annotate --inclusive=yes "$out" >"$dir/inclusive.txt" 2>/dev/null
  local total
  total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/inclusive.txt")
  printf '%-12s %8.0f instructions per task life   (%s)\n' "$name" "$((total / n))" "$dir/inclusive.txt"
}

echo "instructions per task life, $n task lives, one connection:"
run dispatcher taskdb "" --toggle-collect='RedisModuleCommandDispatcher'
run server taskdb ""
run replica+aof taskdb replica
run native native ""
