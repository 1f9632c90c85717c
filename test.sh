#!/usr/bin/env bash
# Set everything up and run the checks: ruff, mypy, and the test suite.
# The suite runs on SQLite; set COMUNA_TEST_PG_URL to run it on PostgreSQL too
# (.ci/run starts a server and does both).
set -euo pipefail
cd "$(dirname "$0")"
EXTRAS=test source scripts/venv.sh
# Keep compiled modules and pytest's rewritten tests between processes: the suite
# starts about a hundred node processes, and an environment that forbids writing
# bytecode (PYTHONDONTWRITEBYTECODE) made each one compile the project again.
unset PYTHONDONTWRITEBYTECODE
# Page tests drive Debian's Chromium (never a downloaded browser); install it when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium for the page tests" >&2
  (apt-get install -y -qq chromium >/dev/null 2>&1 ||
   (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) || true
fi
.venv/bin/ruff check node tests bench
# mypy runs beside the tests, on the CPU they leave while waiting for node processes
# (half a minute from a cold cache); its verdict counts all the same.
typing_log=$(mktemp)
.venv/bin/mypy > "$typing_log" 2>&1 &
typing=$!
# One pytest-xdist worker per core, and one more: the tests spend about a third of
# their time waiting on node processes and Chromium, and the extra worker runs in-process
# tests meanwhile (two workers left a core idle that often). The modules that make
# several node processes talk are one unit of work, every other module another
# (tests/conftest.py schedules them). COMUNA_TEST_WORKERS=0 runs everything in this one
# process.
workers=${COMUNA_TEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
tests_rc=0
.venv/bin/python -m pytest -n "$workers" "$@" || tests_rc=$?
typing_rc=0
wait "$typing" || typing_rc=$?
cat "$typing_log"
rm -f "$typing_log"
[ "$typing_rc" -eq 0 ] || echo "mypy failed (exit $typing_rc)" >&2
[ "$tests_rc" -eq 0 ] || exit "$tests_rc"
exit "$typing_rc"
