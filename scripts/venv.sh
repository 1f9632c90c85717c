# Sourced by run.sh and test.sh: make .venv with Python >= 3.11 and install the project.
# EXTRAS selects optional dependencies (e.g. "test").
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pick_python() {
  for cand in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$cand" ] || continue
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  echo "Python 3.11 or newer is required" >&2
  return 1
}
if [ ! -x "$root/.venv/bin/python" ]; then
  "$(pick_python)" -m venv "$root/.venv"
fi
stamp="$root/.venv/.installed-${EXTRAS:-base}"
if [ ! -f "$stamp" ] || [ "$root/pyproject.toml" -nt "$stamp" ]; then
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  spec="$root"
  [ -n "${EXTRAS:-}" ] && spec="$root[${EXTRAS}]"
  "$root/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
  touch "$stamp"
fi
