#!/usr/bin/env bash
# Set everything up and run the checks: ruff, mypy, and the test suite.
# The suite runs on SQLite; set COMUNA_TEST_PG_URL to run it on PostgreSQL too
# (.ci/run starts a server and does both).
set -euo pipefail
cd "$(dirname "$0")"
EXTRAS=test source scripts/venv.sh
.venv/bin/ruff check node tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
