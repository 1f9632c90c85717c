"""Claiming due rows from a queue table with leases, safe across processes.

PostgreSQL uses FOR UPDATE SKIP LOCKED so workers never wait on each other;
SQLite serialises writers anyway, and the lease condition in the UPDATE keeps
two processes from taking the same row.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.sql import ColumnElement

from node.models.base import utcnow


def claim(
    engine: Engine,
    table: Any,
    limit: int,
    lease_seconds: float,
    extra: ColumnElement[bool] | None = None,
) -> list[Any]:
    """Lease up to `limit` due rows of `table` (a SQLModel class) and return them."""
    now = utcnow()
    token = uuid.uuid4().hex
    due = and_(
        table.state == "queued",
        table.next_attempt_at <= now,
        or_(table.lease_until.is_(None), table.lease_until < now),
    )
    if extra is not None:
        due = and_(due, extra)
    with engine.begin() as conn:
        pick = select(table.id).where(due).order_by(table.next_attempt_at, table.id).limit(limit)
        if conn.dialect.name == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        ids = [r[0] for r in conn.execute(pick)]
        if not ids:
            return []
        conn.execute(
            update(table)
            .where(and_(table.id.in_(ids), due))
            .values(lease_owner=token, lease_until=now + timedelta(seconds=lease_seconds))
        )
        rows = conn.execute(
            select(table).where(and_(table.id.in_(ids), table.lease_owner == token))
        ).all()
    return list(rows)
