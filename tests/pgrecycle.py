"""PostgreSQL databases of the test runs, used again: when a test ends its databases are
emptied back to the migrated template's contents and handed to the next test.

Making and dropping a copy of the template (it copies the system catalogs as well as our
schema) took 77–124 ms on the CI's server settings, emptying a used database 44–55 ms
(`bench/pg_recycle_bench.py`, docs/benchmarks.md), and the suite asks for several
hundred. A database whose schema no longer
matches the template's (a test that migrated, altered or downgraded it) is not used
again: the caller drops it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection

# What a schema is made of, as one text: columns (type, null, default), indexes,
# constraints, triggers and the migration it is at. Two databases with the same text
# have the same schema. Read from the system catalogs: the same from
# information_schema cost three times as much, at every test's end.
_FINGERPRINT = text("""
select md5(string_agg(x, ',' order by x)) from (
  select c.relname || '.' || a.attname || ':' || format_type(a.atttypid, a.atttypmod) ||
         ':' || a.attnotnull::text || ':' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
         as x
    from pg_attribute a join pg_class c on c.oid = a.attrelid
    join pg_namespace n on n.oid = c.relnamespace
    left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
   where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
  union all select pg_get_indexdef(i.indexrelid) from pg_index i
    join pg_class c on c.oid = i.indrelid join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public'
  union all select pg_get_constraintdef(k.oid) || '@' || k.conrelid::regclass::text
    from pg_constraint k join pg_namespace n on n.oid = k.connamespace
   where n.nspname = 'public'
  union all select tgname || '@' || tgrelid::regclass::text from pg_trigger
    where not tgisinternal
  union all select 'at:' || version_num from alembic_version
) parts""")
_TABLES = text("select tablename from pg_tables where schemaname = 'public' "
               "and tablename <> 'alembic_version' order by tablename")
_SEQUENCES = text("select sequencename, last_value, start_value from pg_sequences "
                  "where schemaname = 'public' order by sequencename")


class _Template:
    """What a database holds right after the migrations: its schema's fingerprint, the
    rows the migrations wrote and where each sequence stood."""

    def __init__(self, conn: Connection) -> None:
        self.fingerprint = conn.execute(_FINGERPRINT).scalar_one()
        self.tables: list[str] = list(conn.execute(_TABLES).scalars())
        self.rows: dict[str, list[dict[str, Any]]] = {}
        for table in self.tables:
            rows = [dict(r) for r in conn.execute(text(f'select * from "{table}"')).mappings()]
            if rows:
                self.rows[table] = rows
        self.sequences = [(name, last, start) for name, last, start
                          in conn.execute(_SEQUENCES).all()]


class Recycler:
    def __init__(self, url_of: Callable[[str], str]) -> None:
        self._url_of = url_of
        self._lock = threading.Lock()
        self._free: list[str] = []
        self._template: _Template | None = None

    def learn(self, template_db: str) -> None:
        """Read the template once (before any test changed a copy of it)."""
        with self._lock:
            if self._template is None:
                self._template = self._with(template_db, _Template)

    def take(self) -> str | None:
        with self._lock:
            return self._free.pop() if self._free else None

    def give_back(self, names: list[str]) -> list[str]:
        """Empty each database and keep it for the next test; those that cannot be used
        again are returned, for the caller to drop."""
        refused = []
        for name in names:
            if self._template is not None and self._emptied(name):
                with self._lock:
                    self._free.append(name)
            else:
                refused.append(name)
        return refused

    def _emptied(self, name: str) -> bool:
        try:
            return bool(self._with(name, self._reset))
        # Whatever went wrong (a lock held too long, a connection refused), the
        # database is not used again: the caller drops it, as before recycling.
        except Exception:  # noqa: BLE001
            return False

    def drain(self) -> list[str]:
        with self._lock:
            names, self._free = self._free, []
        return names

    def _with(self, db: str, work: Callable[[Connection], Any]) -> Any:
        engine = create_engine(self._url_of(db).replace("postgresql://", "postgresql+psycopg://"))
        try:
            with engine.connect() as conn:
                return work(conn)
        finally:
            engine.dispose()

    def _reset(self, conn: Connection) -> bool:
        template = self._template
        assert template is not None
        # Whatever the test left connected (a node process, a pool) is ended first. Not
        # waited for (PostgreSQL checks every 0.1 s): a lock a dying session still holds
        # only makes a delete below wait the few milliseconds it takes to go.
        conn.execute(text("select pg_terminate_backend(pid) from pg_stat_activity "
                          "where datname = current_database() and pid <> pg_backend_pid()"))
        conn.commit()
        if conn.execute(_FINGERPRINT).scalar_one() != template.fingerprint:
            return False
        # One transaction, in replica mode: no trigger runs (the audit log refuses
        # deletes; foreign keys would want an order), as in a restore.
        # Every delete in one round trip, and every sequence in one statement: a
        # statement each cost about fifty round trips per test.
        conn.exec_driver_sql("set local session_replication_role = replica; " + "; ".join(
            f'delete from "{table}"' for table in template.tables))
        for table, rows in template.rows.items():
            columns = list(rows[0])
            names = ", ".join(f'"{c}"' for c in columns)
            values = ", ".join(f":{c}" for c in columns)
            conn.execute(text(f'insert into "{table}" ({names}) values ({values})'), rows)
        if template.sequences:
            conn.exec_driver_sql("select " + ", ".join(
                f"setval('public.\"{name}\"', {int(last if last is not None else start)}, "
                f"{'true' if last is not None else 'false'})"
                for name, last, start in template.sequences))
        conn.commit()
        return True
