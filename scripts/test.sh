#!/usr/bin/env bash
# Runs TaskDB's whole test suite: unit tests, integration tests against real redis-servers
# and the client's and migration's tests against real redis-servers and PostgreSQL (each
# test starts its own servers on free ports, in temporary directories). Fails if any
# server a test started is still running afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

# Every server the tests start carries this tag in its environment (testkit/src/spawn.rs).
export TASKDB_TEST_RUN="taskdb-test-$$-$(date +%s)"

# The pids of processes still running with this run's tag.
leftovers() {
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "TASKDB_TEST_SERVER=$TASKDB_TEST_RUN"; then
      echo "${p#/proc/}"
    fi
  done
}

status=0
cargo test --workspace "$@" || status=$?
# The drop-in client again with its `sqlx` feature (not-found as sqlx::Error::RowNotFound).
cargo test -p taskdb-redis --features sqlx "$@" || status=$?

# A server's helper processes may take a moment to notice their parent died.
left=""
for _ in $(seq 50); do
  left=$(leftovers)
  [ -z "$left" ] && break
  sleep 0.1
done
if [ -n "$left" ]; then
  echo "error: the tests left servers running:" >&2
  for p in $left; do
    echo "  $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2
  done
  kill -9 $left 2>/dev/null || true
  exit 1
fi
exit "$status"
