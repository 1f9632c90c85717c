"""What the JSON API and the pages call: each user action of the economy as one
domain operation (the caller commits)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session

from node.economy import intents, local, party, rising
from node.errors import not_found
from node.federation.urls import Urls
from node.models import Exchange, Intent, LocalActor, Member


def publish(session: Session, urls: Urls, member: Member | None, body: LocalActor, side: str,
            kind: str, amount: Decimal, unit: str, enterprise: str | None = None,
            summary: str = "", location: str = "", starts_at: datetime | None = None,
            ends_at: datetime | None = None, rise_after: int = 86400) -> Intent:
    """Publish, then match inside the body at once: local first."""
    row = intents.publish(session, urls, member, body, side, kind, amount, unit, enterprise,
                          summary, location, starts_at, ends_at, rise_after)
    local.match(session, urls, body)
    session.flush()
    session.refresh(row)
    return row


def withdraw(session: Session, urls: Urls, member: Member | None, body: LocalActor,
             intent_id: int) -> Intent:
    row = intents.own(session, body, intent_id)
    intents.withdraw(session, member, body, row)
    rising.announce_change(session, urls, body, row)
    return row


def answer(session: Session, urls: Urls, member: Member | None, body: LocalActor,
           exchange_id: int, accept: bool, reason: str = "") -> Exchange:
    ex = session.get(Exchange, exchange_id)
    if ex is None:
        raise not_found("exchange")
    if ex.mode == "allocation":
        local.answer(session, urls, member, body, ex, accept)
    else:
        party.answer(session, urls, member, body, ex, accept, reason)
    return ex
