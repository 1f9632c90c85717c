#!/usr/bin/env bash
# Set everything up and run a node on http://localhost:8000 (SQLite in ./data).
# Override with COMUNA_DATA_DIR, COMUNA_URL, COMUNA_HANDLE, COMUNA_NAME, COMUNA_LEVEL, PORT.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/venv.sh
data=${COMUNA_DATA_DIR:-./data}
port=${PORT:-8000}
if [ ! -f "$data/comuna.json" ]; then
  .venv/bin/comuna init --data-dir "$data" \
    --url "${COMUNA_URL:-http://localhost:$port}" \
    --handle "${COMUNA_HANDLE:-comuna}" \
    --name "${COMUNA_NAME:-Mi Comuna}" \
    --level "${COMUNA_LEVEL:-commune}"
  # The first coordinator's account: open the printed /join/ link in a browser.
  token=$(.venv/bin/comuna invite --data-dir "$data" --role facilitator |
          sed -n 's/^invitation token: //p')
  echo "Primera cuenta de coordinación: abra ${COMUNA_URL:-http://localhost:$port}/join/$token en el navegador"
  echo "(First coordinator: open that link in a browser.)"
fi
exec .venv/bin/comuna serve --data-dir "$data" --host "${HOST:-127.0.0.1}" --port "$port"
