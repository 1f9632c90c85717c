"""SQLite engines of one process share their compiled SQL (node/storage/db.py): the
second node's first statement is a cache hit, while each keeps its own data."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from node.storage.db import make_engine

ROWS = Table("shared_compile_probe", MetaData(), Column("id", Integer, primary_key=True),
             Column("name", String(20)))


def test_two_databases_one_compilation(tmp_path: Path) -> None:
    a = make_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    b = make_engine(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    try:
        assert a.dialect is b.dialect
        for engine in (a, b):
            ROWS.metadata.create_all(engine)
        with a.begin() as conn:
            conn.execute(insert(ROWS).values(name="maizal"))
        # A statement of its own (the probe table's name is unique to this test).
        wanted = select(ROWS.c.name).where(ROWS.c.name.startswith("mai"))
        with a.connect() as conn:
            first = conn.execute(wanted)
            assert first.all() == [("maizal",)]
        with b.connect() as conn:
            second = conn.execute(wanted)
            # Compiled for the first database, used as it is for the second…
            assert second.context.cache_hit == b.dialect.CACHE_HIT
            # …which holds its own rows.
            assert second.all() == []
    finally:
        a.dispose()
        b.dispose()
