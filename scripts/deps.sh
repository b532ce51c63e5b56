#!/usr/bin/env bash
# Installs what building and testing TaskDB needs on Debian, when it is missing:
# redis-server (7.0+), libclang-dev (the redis-module crate's bindgen needs libclang),
# postgresql (the migration tests start their own server in a temporary directory), and
# python3 with redis-py in a virtualenv of its own, target/pyenv (the Python examples'
# tests run them against a real server), and chromium (the console's browser test).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
# The migration tests start a throwaway PostgreSQL server.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# The console's browser test drives headless Chromium through chromedriver (WebDriver).
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)

if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# redis-py for the Python examples (tests/it/python.rs), from PyPI.
if ! target/pyenv/bin/python -c 'import redis' >/dev/null 2>&1; then
  echo "==> installing redis-py into target/pyenv"
  mkdir -p target
  python3 -m venv target/pyenv
  target/pyenv/bin/pip install -q --disable-pip-version-check 'redis>=5,<8'
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi
echo "==> $(redis-server --version | cut -d' ' -f1-3), $(cargo --version)"
