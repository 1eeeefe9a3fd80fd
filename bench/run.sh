#!/usr/bin/env bash
# Benchmark OpenEngage on this machine: installs wrk (Debian) if missing, then runs bench/bench.py.
# Usage: ./bench/run.sh [--database-url postgresql://...] [--duration 10] [--reps 3] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install --quiet -e '.[test]'; }
exec .venv/bin/python bench/bench.py "$@"
