"""A digest of every row of every table, per table: how a test proves that a refusal
changed nothing. On PostgreSQL the server digests all tables in one statement (one
query per table per check made the attack tests four times slower there)."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import inspect, text

_TABLES: dict[str, list[str]] = {}


def _tables(engine: Any) -> list[str]:
    # Tests do not create tables mid-way, so the list is read once per database.
    key = engine.url.render_as_string(hide_password=False)
    if key not in _TABLES:
        with engine.connect() as conn:
            _TABLES[key] = sorted(inspect(conn).get_table_names())
    return _TABLES[key]


def table_digests(engine: Any, leave_out: frozenset[str] = frozenset()) -> dict[str, str]:
    tables = [t for t in _tables(engine) if t not in leave_out]
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = " UNION ALL ".join(
                f"SELECT '{t}', (SELECT md5(coalesce(string_agg(r::text, E'\\n' "
                f"ORDER BY r::text), '')) FROM \"{t}\" r)" for t in tables)
            return {name: digest for name, digest in conn.execute(text(sql)).all()}
        found = {}
        for t in tables:
            rows = sorted(repr(tuple(r)) for r in conn.execute(text(f'SELECT * FROM "{t}"')))
            found[t] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return found
