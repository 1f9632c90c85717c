#!/usr/bin/env bash
# Every benchmark of docs/benchmarks.md in one run on one machine.
# Needs wrk (Debian package) and the project's .venv (./test.sh makes it).
set -euo pipefail
cd "$(dirname "$0")"
command -v wrk >/dev/null || { echo "install wrk (apt-get install wrk)" >&2; exit 1; }
echo "## inbox"
../.venv/bin/python inbox_bench.py "$@" 2>/dev/null | grep -v -e '^Node ready' -e '^Facilitator'
echo
echo "## delivery"
../.venv/bin/python delivery_bench.py 2>/dev/null | grep -v -e '^Node ready' -e '^Facilitator'
echo
echo "## governance"
../.venv/bin/python governance_bench.py 2>/dev/null | grep -v -e '^Node ready' -e '^Facilitator'
