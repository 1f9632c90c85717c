"""What a test's PostgreSQL database costs: a copy of the migrated template made and
dropped (`CREATE DATABASE … TEMPLATE`, `DROP DATABASE … WITH (FORCE)`) against emptying
a used one for the next test (tests/pgrecycle.py). Needs a server, as the suite does:

    .ci/pg.sh start /tmp/benchpg 55433
    COMUNA_TEST_PG_URL=postgresql://postgres@127.0.0.1:55433/postgres \\
        .venv/bin/python bench/pg_recycle_bench.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import median
from sqlalchemy import create_engine, text


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if not os.environ.get("COMUNA_TEST_PG_URL"):
        sys.exit("set COMUNA_TEST_PG_URL to a PostgreSQL server (see the docstring)")
    import tests.conftest as suite

    template = suite._templates.postgresql()
    copies, emptied = [], []
    dbs = suite.Databases(Path(tempfile.mkdtemp()))
    for i in range(args.rounds):
        name = f"bench_copy_{i}_{os.getpid()}"
        started = time.monotonic()
        suite._pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        suite._pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')
        copies.append(time.monotonic() - started)
        # A used database, as a test leaves it: a connection still open on it.
        url = dbs.new("bench")
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        started = time.monotonic()
        dbs.drop_all()
        emptied.append(time.monotonic() - started)
        engine.dispose()
    suite._drop_recycled()
    print(f"copy made and dropped: median {median(copies) * 1000:.0f} ms")
    print(f"emptying a used one:   median {median(emptied) * 1000:.0f} ms")
    print(f"ratio: {median(copies) / median(emptied):.1f}")


if __name__ == "__main__":
    main()
