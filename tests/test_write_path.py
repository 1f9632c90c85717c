"""The inbox's write path under two processes (issue 11): the group commit's rows as
SQLAlchemy would store them, and a write lock taken soon after its release."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, text
from sqlalchemy.exc import OperationalError

from node.config import Settings
from node.context import NodeContext, build_context
from node.inbox.writer import InboxWriter
from node.models import InboxItem
from node.storage import db
from node.storage.db import make_engine, write_alone


@pytest.fixture
def ctx(node: Settings) -> Iterator[NodeContext]:
    context = build_context(node)
    yield context
    context.engine.dispose()


def _row(n: int, when: datetime) -> dict[str, Any]:
    return {"activity_id": f"https://far.example/activities/{n}", "activity_type": "Create",
            "actor": "https://far.example/users/a", "recipient": "maizal",
            "signer": "https://far.example/users/a#main-key", "body": f'{{"n": {n}}}',
            "received_at": when, "state": "queued", "attempts": 0, "next_attempt_at": when,
            "lease_owner": None, "lease_until": None, "last_error": ""}


def test_the_group_commit_stores_what_sqlalchemy_would(ctx: NodeContext) -> None:
    """Every column, datetimes included, reads back as the ORM's own insert left it: the
    due-row queries compare them (as text on SQLite)."""
    when = datetime(2026, 11, 29, 18, 15, 22, 953170, tzinfo=UTC)
    writer = InboxWriter(ctx.engine)

    async def store() -> None:
        writer.start()
        await asyncio.gather(writer.store(_row(1, when)), writer.store(_row(1, when)))
        await writer.stop()

    asyncio.run(store())
    with ctx.engine.begin() as conn:
        conn.execute(insert(InboxItem.__table__), [_row(2, when)])  # type: ignore[attr-defined]
        raw = conn.exec_driver_sql(
            "SELECT activity_id, activity_type, actor, recipient, signer, body, received_at,"
            " state, attempts, next_attempt_at, lease_owner, lease_until, last_error"
            " FROM inbox_item ORDER BY id").all()
    assert len(raw) == 2  # the repeated id changed nothing
    ours, orm = raw
    assert ours[0].endswith("/1") and orm[0].endswith("/2")
    assert ours[1:5] == orm[1:5] and ours[6:] == orm[6:]
    assert ours[5] == '{"n": 1}'


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[tuple[Engine, Path]]:
    path = tmp_path / "lock.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine, path
    engine.dispose()


def _hold_lock(path: Path, seconds: float, held: threading.Event) -> None:
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    other.execute("COMMIT")
    other.close()


def test_the_write_lock_is_taken_once_another_connection_frees_it(
        sqlite_file: tuple[Engine, Path]) -> None:
    engine, path = sqlite_file
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 0.2, held))
    holder.start()
    assert held.wait(5)
    t0 = time.monotonic()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        assert write_alone(conn, text("INSERT INTO t VALUES (1)")).rowcount == 1
        waited = time.monotonic() - t0
        timeout = conn.exec_driver_sql("PRAGMA busy_timeout").scalar()
    holder.join()
    assert waited >= 0.15  # it did wait for the other writer
    assert timeout == 30000  # every other statement keeps the long busy timeout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1


def test_a_write_lock_never_freed_fails_after_the_wait(
        sqlite_file: tuple[Engine, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, path = sqlite_file
    monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.1)
    held = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(path, 0.6, held))
    holder.start()
    assert held.wait(5)
    with pytest.raises(OperationalError, match="locked"), \
            engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        write_alone(conn, text("INSERT INTO t VALUES (1)"))
    holder.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_the_log_is_checkpointed_beside_the_commits_not_in_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlmodel import SQLModel

    from node.inbox import writer as writer_module

    engine = make_engine(f"sqlite:///{tmp_path / 'ckpt.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    started, release = threading.Event(), threading.Event()
    real = db.checkpoint  # what the writer imported as `checkpoint`

    def slow_checkpoint(engine_: Engine) -> None:
        started.set()
        assert release.wait(5), "the test never released the checkpoint"
        real(engine_)

    monkeypatch.setattr(writer_module, "checkpoint", slow_checkpoint)
    when = datetime.now(UTC)
    writer = InboxWriter(engine)

    async def main() -> None:
        writer.start()
        await writer.store(_row(1, when))
        assert await asyncio.to_thread(started.wait, 5)
        # The checkpoint is still running: later commits do not wait for it.
        await asyncio.wait_for(asyncio.gather(*(writer.store(_row(n, when))
                                                for n in range(2, 6))), 5)
        release.set()
        await writer.stop()

    asyncio.run(main())
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM inbox_item").scalar() == 5
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == \
            db.AUTOCHECKPOINT_PAGES
    engine.dispose()
