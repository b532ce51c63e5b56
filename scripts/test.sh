#!/usr/bin/env bash
# Runs TaskDB's whole test suite: unit tests and integration tests against real
# redis-servers (each test starts its own on a free port, in its own temp directory).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo test --workspace "$@"
