"""Copies of one activity: each delivery is stored (the same activity may come from
its sender and from a stranger who relayed it first, or to two of our bodies), and
processing handles an activity once per recipient.

Only copies that were accepted and handled count: a copy refused because its signer
may not send it never stands in for the real sender's delivery, whichever came first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlmodel import col, select

from node.models import InboxItem

# Recorded on a copy that processing skipped (state "done").
DUPLICATE = "duplicate: this activity was already handled for this recipient"


class Handled:
    """Which (activity, recipient) pairs have been handled. A row addressed to the
    shared inbox (recipient "") is handled for every body it names, so it covers every
    recipient, and any handled copy covers it."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._by_activity: dict[str, set[str]] = {}
        for activity_id, recipient in pairs:
            self.add(activity_id, recipient)

    def add(self, activity_id: str, recipient: str) -> None:
        self._by_activity.setdefault(activity_id, set()).add(recipient)

    def covers(self, activity_id: str, recipient: str) -> bool:
        done = self._by_activity.get(activity_id)
        if not done:
            return False
        return not recipient or recipient in done or "" in done


# Built once: asked at every claim (issue 11).
_COPIES = select(col(InboxItem.id), col(InboxItem.activity_id), col(InboxItem.recipient),
                 col(InboxItem.state)).where(
    col(InboxItem.activity_id).in_(bindparam("ids", expanding=True)))


def handled_before(engine: Engine, rows: list[Any]) -> Handled:
    """The copies of `rows`' activities already handled (other rows, state done)."""
    if not rows:
        return Handled()
    ids = {r.activity_id for r in rows}
    ours = {r.id for r in rows}
    # Only the activity ids in the statement, the rest checked here: given the state
    # too, SQLite's planner walked the (state, next_attempt_at) index over every row
    # ever handled, for each batch, and a flood's backlog drained slower and slower as
    # the table grew (issue 11, thirteenth session). A batch's activities have few
    # copies, so what comes back is about the batch itself.
    with engine.connect() as conn:
        found = conn.execute(_COPIES, {"ids": list(ids)}).all()
    return Handled((activity, recipient) for row_id, activity, recipient, state in found
                   if state == "done" and row_id not in ours)
