"""Claiming due rows from a queue table with leases, safe across processes.

PostgreSQL uses FOR UPDATE SKIP LOCKED so workers never wait on each other;
SQLite serialises writers anyway, and the lease condition in the UPDATE keeps
two processes from taking the same row.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Integer, and_, bindparam, func, or_, select, update
from sqlalchemy.sql import ColumnElement

from node.models.base import aware, utcnow
from node.storage.db import write_alone

log = logging.getLogger("comuna.leases")
_HOST = socket.gethostname()[:40]


def lease_token() -> str:
    """A lease owner naming this machine and process, so a restarted worker can tell
    leases left by a dead process of this machine (`release_dead`) from live ones."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process; not ours to judge
    return True


def release_dead(engine: Engine, table: Any) -> int:
    """Free the leases held by processes of this machine that no longer run.

    A worker killed mid-batch (SIGKILL, power cut) leaves rows leased for up to the lease
    length; without this they would wait that long after the restart. Leases of other
    machines, of live processes, and tokens of the old form are left to expire.
    """
    now = utcnow()
    prefix = f"{_HOST}:"
    with engine.begin() as conn:
        held = conn.execute(
            select(table.lease_owner).where(and_(
                table.state == "queued", table.lease_until > now,
                table.lease_owner.startswith(prefix, autoescape=True))).distinct()).all()
        dead = []
        for (owner,) in held:
            parts = owner.split(":")
            if len(parts) == 3 and parts[1].isdigit() and not _alive(int(parts[1])):
                dead.append(owner)
        if not dead:
            return 0
        result = conn.execute(update(table).where(and_(
            table.state == "queued", table.lease_owner.in_(dead)))
            .values(lease_owner=None, lease_until=None))
        return int(getattr(result, "rowcount", 0) or 0)


def free_dead_at_start(engine: Engine, table: Any, what: str) -> None:
    """`release_dead` for a worker that starts: logged, and never stopping the start."""
    try:
        freed = release_dead(engine, table)
    except Exception:
        log.exception("freeing the leases of dead processes failed")
        return
    if freed:
        log.info("%d %s leased by a process that died are free again", freed, what)


class _Statements:
    """The statements that lease due rows of one queue table, with the moment, the
    token and the limits as parameters. Built once: a statement object keeps its cache
    key, so SQLAlchemy finds it compiled at once. Built at every claim, the expression
    tree and its key cost more than the claim's SQL (a sixth of the Python time of the
    112-node benchmark's hosts, fourteenth session)."""

    def __init__(self, table: Any, extra: ColumnElement[bool] | None,
                 columns: Sequence[Any]) -> None:
        self.extra = extra  # held, so its id is not reused while this entry lives
        now = bindparam("now", type_=table.next_attempt_at.type)
        shape = select(*columns) if columns else select(table)
        due = and_(
            table.state == "queued",
            table.next_attempt_at <= now,
            or_(table.lease_until.is_(None), table.lease_until < now),
        )
        if extra is not None:
            due = and_(due, extra)
        token = bindparam("token", type_=table.lease_owner.type)
        lease = {"lease_owner": token,
                 "lease_until": bindparam("until", type_=table.lease_until.type)}
        ours = table.lease_owner == token
        pick = select(table.id).where(due).order_by(table.next_attempt_at, table.id) \
            .limit(bindparam("limit", type_=Integer))
        order = (table.next_attempt_at, table.id)
        # SQLite: the pick and the lease in one statement, then the rows leased.
        self.lease_picked = update(table).where(and_(table.id.in_(pick), due)).values(**lease)
        # Ours are among the first due rows, behind at most those another process
        # holds: the walk along the due index stops after them.
        self.read_leased = shape.where(and_(
            table.state == "queued", table.next_attempt_at <= now, ours)) \
            .order_by(*order).limit(bindparam("leased", type_=Integer))
        # PostgreSQL: pick and lock, lease, read.
        ids: Any = bindparam("ids", expanding=True)
        self.pick_locked = pick.with_for_update(skip_locked=True)
        self.lease_ids = update(table).where(and_(table.id.in_(ids), due)).values(**lease)
        self.read_ids = shape.where(and_(table.id.in_(ids), ours)).order_by(*order)


# A few queues (the inbox, deliveries), each with its own columns and condition.
_BUILT: dict[tuple[Any, tuple[Any, ...], int], _Statements] = {}
_BUILT_MAX = 32


def _statements(table: Any, extra: ColumnElement[bool] | None,
                columns: Sequence[Any]) -> _Statements:
    key = (table, tuple(columns), id(extra))
    found = _BUILT.get(key)
    if found is None:
        if len(_BUILT) >= _BUILT_MAX:  # a caller making a new condition each time
            _BUILT.clear()
        found = _BUILT[key] = _Statements(table, extra, columns)
    return found


def claim(
    engine: Engine,
    table: Any,
    limit: int,
    lease_seconds: float,
    extra: ColumnElement[bool] | None = None,
    columns: Sequence[Any] = (),
) -> list[Any]:
    """Lease up to `limit` due rows of `table` (a SQLModel class) and return them: every
    column, or only `columns` (the inbox's rows are read at thousands a second). Pass
    the same `extra` object at each call (`breaker.claimable()` is one): its statements
    are then built once."""
    now = utcnow()
    built = _statements(table, extra, columns)
    token = lease_token()
    params = {"now": now, "token": token, "limit": limit,
              "until": now + timedelta(seconds=lease_seconds)}
    if engine.dialect.name == "sqlite":
        return _claim_sqlite(engine, built, params)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(built.pick_locked, params)]
        if not ids:
            return []
        conn.execute(built.lease_ids, {**params, "ids": ids})
        rows = conn.execute(built.read_ids, {**params, "ids": ids}).all()
    return list(rows)


def _claim_sqlite(engine: Engine, built: _Statements, params: dict[str, Any]) -> list[Any]:
    # The pick and the lease in one statement, under the write lock it takes first:
    # two processes claiming at once never pick the same rows (the second picks after
    # the first's commit), and the lock is held for that statement alone. The read is
    # a statement of its own: `UPDATE … RETURNING` would save it (0.3 ms a matter), but
    # SQLite keeps the write lock until every returned row is fetched, while this
    # thread waits for the GIL between rows, and the inbox's writers wait for the lock
    # (two processes under a flood stored 4,840–4,901/s with it, 5,009–5,209/s without;
    # docs/benchmarks.md, thirteenth session).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        leased = write_alone(conn, built.lease_picked, params).rowcount
        if not leased:
            return []
        rows = conn.execute(built.read_leased, {**params, "leased": leased}).all()
    return list(rows)


def next_due(engine: Engine, table: Any) -> datetime | None:
    """When the earliest queued row of `table` is (or was) due, None when none is
    queued: one step along the (state, next_attempt_at) index."""
    with engine.connect() as conn:
        due = conn.execute(select(func.min(table.next_attempt_at))
                           .where(table.state == "queued")).scalar()
    return None if due is None else aware(due)
