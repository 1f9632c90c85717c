"""Read a row to change it without losing another transaction's change to it.

A read-modify-write of one row (a JSON list that grows, a counter) by two units of
work at once loses one of the changes unless the second one reads after the first
commits. `SELECT … FOR UPDATE` says so on PostgreSQL only: SQLite ignores it, and its
driver starts the transaction at the first write, not at the first read. A write that
changes nothing does it on both: it takes PostgreSQL's row lock and SQLite's write lock
before the read, so the read that follows sees every change committed before it, and
the other unit waits for this one."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import update
from sqlmodel import Session, SQLModel, select

M = TypeVar("M", bound=SQLModel)


def locked(session: Session, model: type[M], *where: Any) -> M | None:
    """The row of `model` matching `where`, read under a write lock held until the
    transaction ends (None when there is no such row)."""
    key = model.id  # type: ignore[attr-defined]
    session.execute(update(model).where(*where).values({key: key})
                    .execution_options(synchronize_session=False))
    return session.exec(select(model).where(*where)
                        .execution_options(populate_existing=True)).first()
