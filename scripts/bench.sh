#!/usr/bin/env bash
# Runs TaskDB's benchmark (not part of the test suite): builds the module and the
# benchmark in release mode, then runs it against its own redis-server. Options go to the
# benchmark (scripts/bench.sh --help); figures land in bench-results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --quiet -p taskdb -p taskdb-bench
exec target/release/taskdb-bench "$@"
