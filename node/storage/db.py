"""Engine creation and the settings every connection needs."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Executable, create_engine, event
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool
from sqlalchemy.util import LRUCache

import node.models  # noqa: F401  (registers the tables)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # WAL lets readers run beside the writer. FULL syncs every commit so an
            # accepted activity survives power loss; the inbox batches commits
            # (group commit), which keeps the cost of that sync low.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            # A backstop only: the inbox writer checkpoints in a thread of its own
            # (`checkpoint`), so a commit rarely copies the log into the database
            # while its requests wait for it.
            cur.execute(f"PRAGMA wal_autocheckpoint={AUTOCHECKPOINT_PAGES}")
            cur.close()

        _share_compiled(engine)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


# SQL compiled once per process for every SQLite database it opens, not once per engine.
# SQLAlchemy keys its cache of compiled statements by the dialect object, and each engine
# has a dialect of its own: a process holding many nodes' databases (the tests, the
# federation benchmark's hosts) compiled every statement again for each node, about
# 20 ms of CPU on a node's first federated matter. The SQLite dialect holds nothing of
# one database (only what the sqlite3 library it runs on says of itself), so the
# engines share one, initialised on a database in memory, and its cache.
COMPILED_CACHE_SIZE = 2000
_shared: list[tuple[Dialect, LRUCache[Any, Any]]] = []  # made by the first engine
_shared_lock = threading.Lock()


def _share_compiled(engine: Engine) -> None:
    with _shared_lock:
        if not _shared:
            base = create_engine("sqlite://")
            with base.connect():  # initialise the dialect (it reads the library's version)
                pass
            _shared.append((base.dialect, LRUCache(COMPILED_CACHE_SIZE)))
        dialect, cache = _shared[0]
    engine.dialect = dialect
    engine.pool._dialect = dialect
    engine._compiled_cache = cache


# How long a writer waits for SQLite's write lock before giving up (the busy timeout),
# and how often it tries while another connection holds it.
LOCK_WAIT_SECONDS = 30.0
LOCK_RETRY_SECONDS = 0.0005


# Pages in the write-ahead log after which a committing connection copies it into the
# database itself (SQLite's default is 1,000).
AUTOCHECKPOINT_PAGES = 10_000


def checkpoint(engine: Engine) -> None:
    """Copy what the write-ahead log holds into the database without waiting for
    readers or writers (PASSIVE), on SQLite; nothing on other databases."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()


def write_alone(conn: Connection, stmt: Executable,
                params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
    """Run one writing statement as its own transaction (`conn` in autocommit mode),
    on SQLite taking the write lock at tries half a millisecond apart.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25… ms between tries, while
    the inbox writers and claimers of two processes hold the lock a millisecond or
    two: a writer slept far past the lock's release, and every request of its process
    waited for it. One statement also keeps the lock only for its own run: inside
    BEGIN … COMMIT it was held while the thread waited for the GIL between
    statements, up to the switch interval each time, with the loop busy (issue 11).
    A busy statement fails before it has written anything, so it is tried again whole.
    """
    if conn.dialect.name != "sqlite":
        return conn.execute(stmt, params)
    raw: Any = conn.connection.driver_connection
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return conn.execute(stmt, params)
            except OperationalError as exc:
                if "locked" not in str(exc.orig) or time.monotonic() > deadline:
                    raise
                conn.rollback()
            time.sleep(LOCK_RETRY_SECONDS)
    finally:
        raw.execute("PRAGMA busy_timeout=30000")


def make_migration_engine(url: str) -> Engine:
    """An engine for schema changes. On SQLite it makes DDL transactional (the driver
    would otherwise commit each CREATE/ALTER on its own, so a failed migration would
    leave a half-changed schema) and turns foreign keys off, because SQLite alters a
    table by copying it and the copy cannot be dropped while other tables refer to it."""
    if not url.startswith("sqlite"):
        return make_engine(url, poolclass=NullPool)
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        dbapi_conn.execute("PRAGMA foreign_keys=OFF")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def make_null_engine(url: str) -> Engine:
    """An engine without pooling, for short CLI commands."""
    return make_engine(url, poolclass=NullPool)
