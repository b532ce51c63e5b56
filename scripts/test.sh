#!/usr/bin/env bash
# Runs TaskDB's whole test suite: unit tests, integration tests against real redis-servers
# and the client's and migration's tests against real redis-servers and PostgreSQL (each
# test starts its own servers on free ports, in temporary directories).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo test --workspace "$@"
