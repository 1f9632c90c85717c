"""Group commit for the inbox: many accepted activities, one transaction.

Each request hands its row to the writer and awaits the commit; the writer takes
whatever has queued up meanwhile and stores it in one INSERT … ON CONFLICT DO
NOTHING. The 202 goes out only after that commit. The commit runs in a thread,
so the loop keeps verifying the next requests while the database syncs (SQLite's
fsync, PostgreSQL's round trip): those requests form the next batch. On the
loop thread it was measured faster with two processes and nothing else running,
but with one process, or with the inbox processor beside it, the loop stood idle
for every fsync and each commit took only the dozen rows that had queued up
during the last one (issue 11: 0.30 of the floor on the loop, 0.51 in a thread).
On SQLite the batch is one statement on a connection of its own
(`sqlite_append.py`), so the thread needs the GIL back only once per commit.

After each commit the signers' hosts are told to the delivery circuit breaker
(a host that sends us verified activities is up); that costs a set lookup unless
one of them is known to be failing, and never delays a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import sys
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.exc import OperationalError

from node.activitypub.directory import netloc_of
from node.models import InboxItem
from node.models.inbox import DELIVERY, delivery_key
from node.outbox.breaker import Hearing
from node.storage.db import checkpoint

log = logging.getLogger("comuna.inbox")
# Failures of the database itself, not of a row in the batch.
_NOT_THE_ROWS = (sqlite3.OperationalError, OperationalError)
MAX_BATCH = 500
# While rows arrive, the log is checkpointed at most this often, beside the commits.
CHECKPOINT_SECONDS = 0.2
# How long a thread that wants the GIL waits before the running one must give it up.
SWITCH_SECONDS = 0.001


class InboxWriter:
    def __init__(self, engine: Engine, on_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_commit = on_commit
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._checkpoint: asyncio.Task[None] | None = None
        self._inflight: asyncio.Future[None] | None = None
        self._checkpointed = 0.0
        self._hearing = Hearing(engine)
        table: Table = InboxItem.__table__  # type: ignore[attr-defined]
        self._sqlite = engine.dialect.name == "sqlite"
        # Only the dialect in use is imported: the other costs memory in every process.
        if self._sqlite:
            from node.inbox.sqlite_append import SqliteAppend

            self._append: Any = SqliteAppend(engine, table, DELIVERY)
        else:
            from sqlalchemy.dialects import postgresql

            self._stmt: Any = postgresql.insert(table).on_conflict_do_nothing(
                index_elements=list(DELIVERY)
            )

    def start(self) -> None:
        # The commit thread hands the GIL back to the loop for each call into the
        # database and then waits for it; while the loop verifies a flood that wait is
        # the interpreter's switch interval, 5 ms by default, which delayed every
        # commit (and all the requests waiting for it) by several of those.
        if sys.getswitchinterval() > SWITCH_SECONDS:
            sys.setswitchinterval(SWITCH_SECONDS)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        for running in (self._inflight, self._checkpoint):
            if running is not None:
                with contextlib.suppress(Exception):
                    await running
        if self._sqlite:
            self._append.close()
        await self._hearing.stop()

    async def store(self, row: dict[str, Any]) -> None:
        """Returns once `row` is committed (or the same delivery was already there: the
        same activity, signing key and recipient)."""
        row["delivery_key"] = delivery_key(row["activity_id"], row["signer"], row["recipient"])
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, fut))
        self._wake.set()
        await fut

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                try:
                    await self._commit_in_thread([r for r, _ in batch])
                    _answer(batch, None)
                except Exception as exc:  # noqa: BLE001
                    # One row the database refuses must not fail the rows that shared its
                    # statement: each is tried alone, and each waiter learns its own fate.
                    # Not after a busy lock that never freed, a full disk or a lost
                    # server: each row alone would wait and fail the same way.
                    alone = len(batch) > 1 and not isinstance(exc, _NOT_THE_ROWS)
                    stored = alone and await self._one_by_one(batch)
                    _answer(batch, exc)  # the waiters not answered row by row
                    if not stored:
                        continue
                # Rows stored handled (node/inbox/triage.py) are nothing to wake for.
                if self.on_commit is not None and \
                        any(r["state"] == "queued" for r, _ in batch):
                    self.on_commit()
                self._maybe_checkpoint()
                self._hearing.note({netloc_of(r["signer"]) for r, _ in batch if r.get("signer")})
                # Let the answered requests run before taking the next batch.
                await asyncio.sleep(0)

    async def _commit_in_thread(self, rows: list[dict[str, Any]]) -> None:
        # Shielded: a stop waits for a commit under way (its thread runs on) before the
        # connection it uses is closed.
        self._inflight = asyncio.ensure_future(asyncio.to_thread(self._commit, rows))
        await asyncio.shield(self._inflight)

    async def _one_by_one(self, batch: list[tuple[dict[str, Any], asyncio.Future[None]]]
                          ) -> bool:
        """Each row of a failed batch in a statement of its own; whether any was stored."""
        stored = False
        for row, fut in batch:
            try:
                await self._commit_in_thread([row])
            except Exception as exc:  # noqa: BLE001
                _answer([(row, fut)], exc)
            else:
                _answer([(row, fut)], None)
                stored = True
        return stored

    def _maybe_checkpoint(self) -> None:
        """On SQLite, copy the log into the database in a thread beside the commits.
        Left to SQLite, the commit that filled the log copied it (and synced the
        database file) before its requests could be answered, several times a second
        under a flood of two processes."""
        if not self._sqlite or (self._checkpoint is not None and not self._checkpoint.done()):
            return
        now = asyncio.get_running_loop().time()
        if now - self._checkpointed < CHECKPOINT_SECONDS:
            return
        self._checkpointed = now
        self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            await asyncio.to_thread(checkpoint, self.engine)
        except Exception:  # the next one, or SQLite's own, will do it
            log.exception("checkpointing the write-ahead log failed")

    def _commit(self, rows: list[dict[str, Any]]) -> None:
        if self._sqlite:
            self._append.commit(rows)
            return
        with self.engine.begin() as conn:
            conn.execute(self._stmt, rows)


def _answer(batch: list[tuple[dict[str, Any], asyncio.Future[None]]],
            error: BaseException | None) -> None:
    """Every waiter must learn the outcome (an error makes its request answer one, and
    its sender retry): one left waiting hangs."""
    for _, fut in batch:
        if fut.done():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
