"""Offers and needs: published by a body (for itself or one of its enterprises),
held by the body and by every federation they rise to. What is `available` is what
is neither committed nor held by a proposed exchange."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from node.economy import enterprises, states, wire
from node.economy.catalogue import Catalogue, fmt, quantity, shared
from node.economy.matcher import INF
from node.economy.matcher import Intent as Want
from node.errors import Problem, not_found
from node.models import Intent, LocalActor, ResourceKind
from node.models.base import aware
from node.outbox.publish import new_uid
from node.tx import Tx

MAX_RISE = 365 * 86400


def catalogue(session: Session) -> Catalogue:
    """The shared catalogue with the kinds this node added."""
    from node.economy.catalogue import Kind

    extra = [Kind(uri=r.uri, slug=r.slug, labels={"es": r.label_es, "en": r.label_en or
                                                  r.label_es}, unit=r.unit,
                  extra={k: Decimal(v) for k, v in json.loads(r.extra).items()})
             for r in session.exec(select(ResourceKind)).all()]
    return shared().with_kinds(extra) if extra else shared()


def publish(tx: Tx, body: LocalActor, side: str,
            kind: str, amount: Any, unit: str, enterprise: str | None = None,
            summary: str = "", location: str = "", starts_at: datetime | None = None,
            ends_at: datetime | None = None, rise_after: int = 86400,
            in_return: str | None = None) -> Intent:
    if side not in ("offer", "need"):
        raise Problem(422, "bad-side", "side is offer or need")
    session, urls = tx.session, tx.urls
    agent, ent = enterprises.agent_for(session, urls, body, enterprise)
    enterprises.require_answerer(session, tx.member, body, {ent.id or 0} if ent else set())
    cat = catalogue(session)
    if cat.kind(kind) is None:
        raise Problem(422, "unknown-kind", f"{kind} is not in the resource catalogue")
    q = quantity(amount)
    if in_return and cat.kind(in_return) is None:
        raise Problem(422, "unknown-kind", f"{in_return} is not in the resource catalogue")
    cat.factor(kind, unit)  # a 422 if the unit does not measure this kind
    if starts_at and ends_at and aware(ends_at) < aware(starts_at):
        raise Problem(422, "bad-window", "the window ends before it starts")
    if not 0 <= rise_after <= MAX_RISE:
        raise Problem(422, "bad-window", "rise_after is between 0 and one year, in seconds")
    now = tx.now()
    row = Intent(uri=urls.obj(f"intent-{new_uid()}"), holder_id=body.id or 0, side=side,
                 body=urls.actor(body.handle), agent=agent,
                 enterprise_id=ent.id if ent else None, kind=kind, unit=unit, quantity=fmt(q),
                 available=fmt(q), summary=summary.strip()[:5000], location=location[:500],
                 starts_at=starts_at, ends_at=ends_at, rise_after=rise_after,
                 rise_at=now + timedelta(seconds=rise_after), in_return=in_return or "")
    session.add(row)
    session.flush()
    tx.audit(f"economy.{side}",
             f"intent:{row.id}", {"kind": kind, "quantity": str(q), "unit": unit})
    return row


def own(session: Session, body: LocalActor, intent_id: int) -> Intent:
    row = session.get(Intent, intent_id)
    if row is None or row.holder_id != body.id or row.received_from:
        raise not_found("offer or need")
    return row


def withdraw(tx: Tx, body: LocalActor, row: Intent) -> None:
    states.require(tx.session, tx.urls, tx.member, body, row, "withdraw")
    states.INTENT.move(tx.session, row, "withdraw", rise_at=None)
    tx.session.add(row)
    tx.audit("economy.withdrawn", f"intent:{row.id}", {"uri": row.uri})


def doc_of(row: Intent) -> wire.IntentDoc:
    return wire.IntentDoc(
        id=row.uri, body=row.body, side=row.side, agent=row.agent, kind=row.kind,
        unit=row.unit, quantity=Decimal(row.quantity), available=Decimal(row.available),
        summary=row.summary, location=row.location,
        starts_at=aware(row.starts_at) if row.starts_at else None,
        ends_at=aware(row.ends_at) if row.ends_at else None, rise_after=row.rise_after,
        in_return=row.in_return)


def held(session: Session, holder: LocalActor, side: str | None = None) -> list[Intent]:
    stmt = select(Intent).where(Intent.holder_id == holder.id, Intent.state == "open")
    if side:
        stmt = stmt.where(Intent.side == side)
    return list(session.exec(stmt.order_by(col(Intent.id))).all())


def held_by_uri(session: Session, holder: LocalActor, uri: str) -> Intent | None:
    return session.exec(select(Intent).where(Intent.holder_id == holder.id,
                                             Intent.uri == uri)).first()


def own_by_uri(session: Session, body: LocalActor, uri: str) -> Intent | None:
    """The body's own offer or need (not a copy a member sent up to it)."""
    row = held_by_uri(session, body, uri)
    return row if row is not None and not row.received_from else None


def in_unit_of(cat: Catalogue, row: Intent, kind: str, amount: Decimal, unit: str) -> Decimal:
    """`amount` of `unit` expressed in the intent's own unit (rounded down)."""
    if row.unit == unit:
        return amount
    return cat.from_base(kind, cat.to_base(kind, amount, unit), row.unit)


def wants(cat: Catalogue, rows: list[Intent], party: str = "body") -> list[Want]:
    """The matcher's view: what is available, in base units, with windows in seconds."""
    out = []
    for r in rows:
        base = cat.to_base(r.kind, Decimal(r.available), r.unit) if cat.kind(r.kind) else 0
        if base <= 0:
            continue
        out.append(Want(r.uri, r.body if party == "body" else r.agent, r.kind, base,
                        aware(r.starts_at).timestamp() if r.starts_at else -INF,
                        aware(r.ends_at).timestamp() if r.ends_at else INF))
    return out


def _fresh(row: Intent) -> None:
    """Read the row again under a row lock on PostgreSQL, so that two transactions
    wait for each other instead of failing; on either database the row version
    (`row_version`) refuses an update made from a stale read."""
    session = object_session(row)
    if session is not None and row.id is not None and \
            session.get_bind().dialect.name == "postgresql":
        session.flush()
        session.refresh(row, with_for_update=True)


def take(tx: Tx, row: Intent, amount: Decimal) -> None:
    """Hold `amount` of what is available (for a proposed or agreed exchange)."""
    _fresh(row)
    left = Decimal(row.available) - amount
    if left < 0:
        raise Problem(409, "not-available",
                      f"only {row.available} {row.unit} of this {row.side} is available")
    row.available = fmt(left)
    row.updated_at = tx.now()
    if left == 0 and row.state == states.IntentState.open:
        _move(row, "fill", rise_at=None)


def give_back(tx: Tx, row: Intent, amount: Decimal) -> None:
    """Release a hold (an exchange refused or cancelled). A withdrawn offer or need
    stays gone: nothing comes back to it to be matched."""
    _fresh(row)
    if row.state == "withdrawn":
        row.updated_at = tx.now()
        return
    row.available = fmt(min(Decimal(row.available) + amount, Decimal(row.quantity)))
    row.updated_at = tx.now()
    if row.state == states.IntentState.matched and Decimal(row.available) > 0:
        _move(row, "reopen")


def _move(row: Intent, action: str, **values: Any) -> None:
    session = object_session(row)
    assert session is not None, "an intent is moved inside its session"
    states.INTENT.move(session, row, action, **values)  # type: ignore[arg-type]


def view(row: Intent, cat: Catalogue, lang: str = "es") -> dict[str, Any]:
    kind = cat.kind(row.kind)
    return {"id": row.id, "uri": row.uri, "side": row.side, "body": row.body,
            "agent": row.agent, "kind": row.kind,
            "kind_label": kind.label(lang) if kind else row.kind, "unit": row.unit,
            "quantity": row.quantity, "available": row.available, "summary": row.summary,
            "location": row.location, "in_return": row.in_return or None,
            "starts_at": wire.stamp(aware(row.starts_at)) if row.starts_at else None,
            "ends_at": wire.stamp(aware(row.ends_at)) if row.ends_at else None,
            "rise_after": row.rise_after, "risen_to": json.loads(row.risen_to),
            "state": row.state, "received_from": row.received_from}
