"""Which copies of a batch's activities were handled before (node/inbox/copies.py): the
answer, and a read that stays small however many rows the inbox has handled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from node.config import Settings
from node.context import build_context
from node.inbox.copies import handled_before
from node.models import InboxItem
from tests.conftest import backend


def _row(n: int, state: str, recipient: str = "maizal") -> InboxItem:
    return InboxItem(activity_id=f"https://peer.example/a/{n}", body="{}", state=state,
                     recipient=recipient, delivery_key=f"{n}-{state}-{recipient}")


def test_copies_handled_before_and_the_index_read(node: Settings) -> None:
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        # Many handled rows of other activities, as a node has after a while.
        s.add_all(_row(n, "done") for n in range(1000, 1400))
        s.add_all([_row(1, "done", "otra"), _row(2, "refused"), _row(3, "done", "")])
        batch = [_row(n, "queued") for n in (1, 2, 3, 4)]
        s.add_all(batch)
        s.commit()
        claimed = [s.get(InboxItem, b.id) for b in batch]
    statements: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        if "inbox_item" in statement:
            statements.append((statement, params))

    event.listen(ctx.engine, "before_cursor_execute", seen)
    try:
        handled = handled_before(ctx.engine, claimed)
    finally:
        event.remove(ctx.engine, "before_cursor_execute", seen)
    # Activity 1 was handled for another body, 3 at the shared inbox (every body), 2 only
    # refused (it counts for nobody), 4 never.
    assert handled.covers("https://peer.example/a/1", "otra")
    assert not handled.covers("https://peer.example/a/1", "maizal")
    assert handled.covers("https://peer.example/a/3", "maizal")
    assert not handled.covers("https://peer.example/a/2", "maizal")
    assert not handled.covers("https://peer.example/a/4", "maizal")
    assert len(statements) == 1
    if backend() == "sqlite":
        # The plan reads by activity, never along the state index over handled rows.
        statement, params = statements[0]
        with ctx.engine.connect() as conn:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {statement}", params).all())
            assert "ux_inbox_delivery" in plan, plan
            assert "ix_inbox_due" not in plan, plan
