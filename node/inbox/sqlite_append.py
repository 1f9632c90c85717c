"""The inbox's group commit on SQLite: a batch of rows as one statement.

The commit runs in a thread while the event loop verifies the next requests. Under
a flood the loop holds the GIL nearly all the time, and a thread that gave the GIL
up for a call into SQLite waited up to the interpreter's switch interval (5 ms) to
get it back after each call: an `executemany` of 30 rows inside BEGIN … COMMIT
gave it up some 35 times and took 10–25 ms instead of 1 (issue 11, two processes).
So the batch is a single `INSERT … VALUES (…), (…) … ON CONFLICT DO NOTHING` on a
connection of its own in autocommit mode: one call into SQLite takes the write
lock, inserts, commits and syncs (synchronous=FULL, as every connection), and a
statement is atomic, so a batch is stored whole or not at all, as before.

SQLite's busy handler sleeps 1, 2, 5, 10 … ms between tries; the other process's
writer holds the lock a millisecond or two, so the statement is retried every half
millisecond instead (the connection's busy timeout is 0: a busy statement fails
before it has written anything).
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, Table, bindparam
from sqlalchemy.dialects import sqlite

from node.storage import db

# SQLite before 3.32 allowed 999 parameters in a statement; later ones 32,766.
MAX_PARAMS = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


class SqliteAppend:
    def __init__(self, engine: Engine, table: Table, conflict: tuple[str, ...]) -> None:
        self.engine = engine
        cols = [c for c in table.columns if not c.primary_key]
        compiled = sqlite.insert(table).values(
            {c.name: bindparam(c.name) for c in cols}
        ).on_conflict_do_nothing(index_elements=list(conflict)).compile(dialect=engine.dialect)
        # The values as SQLAlchemy would bind them (its text form of a datetime), so a
        # row reads back the same whoever stored it.
        self.cols = [(name, table.c[name].type.dialect_impl(engine.dialect)
                      .bind_processor(engine.dialect)) for name in compiled.positiontup or ()]
        text = str(compiled)
        head, rest = text.split(" VALUES ", 1)
        group, tail = rest.split(") ", 1)
        self._head, self._group, self._tail = head + " VALUES ", group + ")", " " + tail
        self._per_statement = max(1, MAX_PARAMS // len(self.cols))
        self._conn: sqlite3.Connection | None = None

    def statement(self, rows: int) -> str:
        return self._head + ", ".join([self._group] * rows) + self._tail

    def commit(self, rows: list[dict[str, Any]]) -> None:
        """Store `rows` durably; a row whose id is already there is left as it was."""
        conn = self._connection()
        for start in range(0, len(rows), self._per_statement):
            chunk = rows[start:start + self._per_statement]
            params = [row[name] if conv is None else conv(row[name])
                      for row in chunk for name, conv in self.cols]
            self._execute(conn, self.statement(len(chunk)), params)

    def _execute(self, conn: sqlite3.Connection, sql: str, params: list[Any]) -> None:
        deadline = time.monotonic() + db.LOCK_WAIT_SECONDS
        while True:
            try:
                conn.execute(sql, params)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(db.LOCK_RETRY_SECONDS)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # Made by the engine, so it has every connection's settings (WAL,
            # synchronous=FULL, foreign keys); then kept out of the pool, since it
            # differs from the others (autocommit, no busy wait).
            proxied = self.engine.raw_connection()
            conn: Any = proxied.driver_connection
            proxied.detach()
            conn.isolation_level = None
            conn.execute("PRAGMA busy_timeout=0")
            self._conn = conn
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
