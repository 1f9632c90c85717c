"""What a body's members are told of: a vote opened or closing soon, a decision
recorded or arrived, a mandate given or recalled, an exchange proposed.

The domain function where it happens calls `record(tx, ...)`; the event is written
in the same transaction as the change it reports, so a client never hears of a change
that was rolled back, nor misses one that committed. Custom clients read the events
as a feed in `id` order and resume from the last id they saw (`GET /api/v1/events`,
and its Server-Sent Events stream), so ids must be handed out in commit order: the
rows are inserted just before the commit (`before_commit` below), and on PostgreSQL
under a transaction-scoped advisory lock, so a transaction that took id 10 commits
before another can take 11 (on SQLite the database's write lock does the same). A
reader that saw 11 can then never find 10 appearing behind it.

Who sees an event: the members of the body it concerns, and the people it names
(`people`: a mandate's spokespersons)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import or_, text
from sqlmodel import Session, col, select

from node.models import Event, EventPerson, LocalActor, Membership
from node.tx import Tx

VOTE_OPENED = "vote.opened"
VOTE_CLOSING = "vote.closing"
AMENDMENT_VOTE_OPENED = "amendment.vote_opened"
AMENDMENT_VOTE_CLOSING = "amendment.vote_closing"
DECISION_RECORDED = "decision.recorded"
DECISION_ARRIVED = "decision.arrived"
MANDATE_GIVEN = "mandate.given"
MANDATE_RECALLED = "mandate.recalled"
EXCHANGE_PROPOSED = "exchange.proposed"
KINDS = (VOTE_OPENED, VOTE_CLOSING, AMENDMENT_VOTE_OPENED, AMENDMENT_VOTE_CLOSING,
         DECISION_RECORDED, DECISION_ARRIVED, MANDATE_GIVEN, MANDATE_RECALLED,
         EXCHANGE_PROPOSED)

# The topic woken after a commit that wrote events (node/context.py registers it).
TOPIC = "events"
OUTCOME_ES = {"adopted": "aprobada", "rejected": "rechazada", "no_quorum": "sin quórum"}
_PENDING = "comuna.events"
# pg_advisory_xact_lock's key for "writing events": any constant of our own.
_LOCK = 0x636F6D75


def record(tx: Tx, kind: str, body: LocalActor, subject: str, text: str,
           data: dict[str, Any] | None = None, people: Iterable[int] = (),
           once: str | None = None) -> None:
    """Tell `body`'s members (and `people`, member ids) of `kind` on `subject`, once this
    transaction commits. `once` names what must be said only once: a second event with
    the same `once` fails the commit (IntegrityError)."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind}")
    # Asked first: it opens the transaction the event then belongs to.
    tx.wake(TOPIC)
    row = Event(kind=kind, body_id=body.id or 0, subject=subject[:200], text=text,
                data=json.dumps({"body": body.handle, **(data or {})}, ensure_ascii=False,
                                default=str),
                once=once, created_at=tx.now())
    pending: list[tuple[Event, list[int]]] = tx.session.info.setdefault(_PENDING, [])
    pending.append((row, sorted(set(people))))


@sa_event.listens_for(Session, "before_commit")
def _write(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: written with the transaction around it
    pending: list[tuple[Event, list[int]]] = session.info.pop(_PENDING, [])
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        # Held until the commit: ids are taken in the order the transactions commit.
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
    session.add_all([row for row, _ in pending])
    session.flush()
    session.add_all([EventPerson(event_id=row.id or 0, member_id=m)
                     for row, people in pending for m in people])


@sa_event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, previous: Any) -> None:
    if previous.parent is None:
        session.info.pop(_PENDING, None)


def feed(session: Session, member_id: int, body_id: int | None = None,
         after: int | None = None, limit: int = 50) -> list[Event]:
    """The events `member_id` may see, oldest first, after the id `after`; at most
    `limit` (+1, for the caller to know there is more)."""
    mine = select(Membership.body_id).where(Membership.member_id == member_id,
                                            Membership.role == "member")
    named = select(EventPerson.event_id).where(EventPerson.member_id == member_id)
    query = select(Event).where(or_(col(Event.body_id).in_(mine), col(Event.id).in_(named)))
    if body_id is not None:
        query = query.where(Event.body_id == body_id)
    if after is not None:
        query = query.where(col(Event.id) > after)
    return list(session.exec(query.order_by(col(Event.id)).limit(limit + 1)).all())


def view(row: Event) -> dict[str, Any]:
    data = json.loads(row.data)
    return {"id": row.id, "kind": row.kind, "body": data.pop("body", ""),
            "subject": row.subject, "text": row.text, "data": data,
            "created_at": row.created_at.isoformat()}


def last_id(session: Session) -> int:
    """The newest event's id (0 when none): where a stream without a cursor starts."""
    found = session.exec(select(Event.id).order_by(col(Event.id).desc()).limit(1)).first()
    return found or 0
