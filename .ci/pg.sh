#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the test suite, as the postgres user,
# on a loopback port, in a temporary data directory. Prints the server URL.
# Usage: .ci/pg.sh start DIR PORT | .ci/pg.sh stop DIR
set -euo pipefail
cmd=$1 dir=$2
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ]; then
  echo "PostgreSQL is not installed (Debian package postgresql)" >&2
  exit 1
fi
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }
case "$cmd" in
  start)
    port=$3
    mkdir -p "$dir"
    chown postgres: "$dir" 2>/dev/null || true
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
    # A throw-away server: nothing is flushed to the disk (fsync=off). A node process
    # killed in a test loses nothing by it, since the server process itself lives on;
    # only a crash of the whole machine would, and that ends the run anyway.
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
      -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c full_page_writes=off -c max_connections=300" start >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null || true
    ;;
esac
