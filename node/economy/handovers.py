"""Deliveries: the giver records an economic event against a commitment; the
receiver confirms it (or disputes it); a commitment is fulfilled when what was
confirmed reaches what was committed. Either side may cancel what is not yet
delivered. Inside one body both sides are on this node; between bodies the events
travel as `Create(EconomicEvent)`, `Accept`/`Reject` of it, and `Update` of the
commitment with `finished`, copied to the federation that proposed the exchange.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.economy import intents, rising, states, wire
from node.economy.catalogue import fmt
from node.errors import Problem, not_found
from node.models import Commitment, EconomicEvent, Exchange, JointPlan, LocalActor
from node.outbox.publish import new_uid, publish
from node.tx import Tx

OPEN = ("agreed", "partial")


def commitment(session: Session, uri: str) -> Commitment:
    row = session.exec(select(Commitment).where(Commitment.uri == uri)).first()
    if row is None:
        raise not_found("commitment")
    return row


def commitment_by_id(session: Session, commitment_id: int) -> Commitment:
    """The commitment a page or an API path names by its number."""
    row = session.get(Commitment, commitment_id)
    if row is None:
        raise not_found("commitment")
    return row


def _others(session: Session, c: Commitment, me: str) -> set[str]:
    """Where a delivery, confirmation or cancellation goes: for an exchange, the
    federation that proposed it (it relays to the other side); for a joint plan, the
    other participants as its initiator knows them, or the initiator (it relays)."""
    ex = session.exec(select(Exchange).where(Exchange.uri == c.exchange)).first()
    if ex is not None:
        inboxes: dict[str, str] = json.loads(ex.inboxes)
        return {i for actor, i in inboxes.items() if actor != me and i}
    plan = session.exec(select(JointPlan).where(JointPlan.uri == c.exchange)).first()
    if plan is None:
        raise not_found("exchange or plan")
    if plan.initiator == me:
        known: dict[str, str] = json.loads(plan.participants)
        return {i for actor, i in known.items() if actor != me and i}
    return {plan.initiator_inbox} if plan.initiator_inbox else set()


def record(tx: Tx, body: LocalActor, uri: str,
           amount: Decimal, unit: str | None = None, happened_at: datetime | None = None,
           note: str = "") -> EconomicEvent:
    """The giver says it delivered `amount` (in the commitment's unit)."""
    session, urls = tx.session, tx.urls
    c = commitment(session, uri)
    me = urls.actor(body.handle)
    states.require(session, urls, tx.member, body, c, "deliver")
    if unit and unit != c.unit:
        raise Problem(422, "unit-mismatch", f"deliveries are recorded in {c.unit}")
    left = states.left_to_deliver(session, c)
    if amount > left:
        raise Problem(422, "too-much", f"only {left} {c.unit} remain to be delivered")
    ev = EconomicEvent(uri=urls.obj(f"event-{new_uid()}"), commitment=c.uri, provider=c.provider,
                       receiver=c.receiver, kind=c.kind, unit=c.unit, quantity=fmt(amount),
                       happened_at=happened_at or tx.now(), note=note[:2000])
    session.add(ev)
    session.flush()
    targets = _others(session, c, me)
    if targets:
        doc = wire.event_object(_doc(ev))
        publish(tx, body, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Create", "actor": me, "object": doc, "published": wire.stamp_of(tx.now())},
            to_followers=False, inboxes=targets)
    tx.audit("economy.delivered",
             f"event:{ev.id}", {"commitment": c.uri, "quantity": str(amount)})
    return ev


def _doc(ev: EconomicEvent) -> wire.EventDoc:
    return wire.EventDoc(ev.uri, ev.commitment, ev.provider, ev.receiver, ev.kind, ev.unit,
                         Decimal(ev.quantity), ev.happened_at, ev.note)


def receive(tx: Tx, sender: str, doc: wire.EventDoc) -> EconomicEvent | None:
    """A giver's record of a delivery reached us (as receiver or as the federation)."""
    session = tx.session
    c = session.exec(select(Commitment).where(Commitment.uri == doc.commitment)).first()
    if c is None or doc.provider != c.provider or doc.receiver != c.receiver:
        return None
    if sender != c.provider:
        raise Problem(403, "not-provider", "only the body that gives records a delivery")
    if doc.unit != c.unit or doc.kind != c.kind:
        raise Problem(422, "malformed", "the delivery does not match its commitment")
    if session.exec(select(EconomicEvent).where(EconomicEvent.uri == doc.id)).first():
        return None
    # The same bound the giver's own node applies: never more than was committed.
    left = states.left_to_deliver(session, c)
    if doc.quantity <= 0 or doc.quantity > left:
        raise Problem(422, "too-much", f"only {left} {c.unit} remain to be delivered")
    ev = EconomicEvent(uri=doc.id, commitment=c.uri, provider=c.provider, receiver=c.receiver,
                       kind=c.kind, unit=c.unit, quantity=fmt(doc.quantity),
                       happened_at=doc.happened_at, note=doc.note)
    session.add(ev)
    session.flush()
    return ev


def confirm(tx: Tx, body: LocalActor, event_uri: str, accept: bool) -> EconomicEvent:
    """The receiver confirms (or disputes) what the giver recorded."""
    session, urls = tx.session, tx.urls
    ev = session.exec(select(EconomicEvent).where(EconomicEvent.uri == event_uri)).first()
    if ev is None:
        raise not_found("delivery")
    me = urls.actor(body.handle)
    states.require(session, urls, tx.member, body, ev, "confirm" if accept else "dispute")
    c = commitment(session, ev.commitment)
    _settle_event(tx, ev, c, accept)
    targets = _others(session, c, me)
    if targets:
        publish(tx, body, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Accept" if accept else "Reject", "actor": me, "object": ev.uri},
            to_followers=False, inboxes=targets)
    tx.audit("economy.delivery." + ("confirmed" if accept else "disputed"),
             f"event:{ev.id}", {"commitment": c.uri, "quantity": ev.quantity})
    return ev


def _settle_event(tx: Tx, ev: EconomicEvent, c: Commitment, accept: bool) -> None:
    session = tx.session
    if ev.state != states.E.recorded:
        raise Problem(409, "answered", f"this delivery is already {ev.state}")
    states.EVENT.move(session, ev, "confirm" if accept else "dispute", confirmed_at=tx.now())
    session.add(ev)
    if accept:
        done = Decimal(c.delivered) + Decimal(ev.quantity)
        if c.state in OPEN:
            states.COMMITMENT.move(session, c, "fulfil" if done >= Decimal(c.quantity)
                                   else "deliver_part", delivered=fmt(done))
        else:
            c.delivered, c.updated_at = fmt(done), tx.now()
        session.add(c)


def receive_answer(tx: Tx, sender: str, event_uri: str, accept: bool) -> bool:
    """The receiver's confirmation reached the giver (or the federation)."""
    session = tx.session
    ev = session.exec(select(EconomicEvent).where(EconomicEvent.uri == event_uri)).first()
    if ev is None:
        return False
    if sender != ev.receiver:
        raise Problem(403, "not-receiver", "only the body that receives confirms a delivery")
    _settle_event(tx, ev, commitment(session, ev.commitment), accept)
    return True


def cancel(tx: Tx, body: LocalActor, uri: str, reason: str = "") -> Commitment:
    """Either side calls off what is not yet delivered; what was delivered stands, and
    the giver's offer and the receiver's need get the rest back."""
    session, urls = tx.session, tx.urls
    c = commitment(session, uri)
    me = urls.actor(body.handle)
    states.require(session, urls, tx.member, body, c, "cancel")
    _cancel(tx, c)
    _give_back_rest(tx, body, c)
    targets = _others(session, c, me)
    if targets:
        publish(tx, body, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Update", "actor": me, "content": reason[:1000],
            "object": {"id": c.uri, "type": "Commitment", "finished": True}},
            to_followers=False, inboxes=targets)
    # The rest is ours to offer again: the federations that held the offer at 0 (or
    # short) hear so, or they never propose on it again.
    rising.announce_rows(tx, body, [c.offer, c.need])
    tx.audit("economy.cancelled", f"commitment:{c.id}", {"uri": c.uri, "delivered": c.delivered})
    return c


def _cancel(tx: Tx, c: Commitment) -> None:
    if c.state not in OPEN:
        raise Problem(409, "not-open", f"this commitment is {c.state}")
    states.COMMITMENT.move(tx.session, c, "cancel")
    tx.session.add(c)


def _give_back_rest(tx: Tx, body: LocalActor, c: Commitment) -> None:
    rest = Decimal(c.quantity) - Decimal(c.delivered)
    if rest <= 0:
        return
    session = tx.session
    cat = intents.catalogue(session)
    for ref in (c.offer, c.need):
        row = intents.own_by_uri(session, body, ref)
        if row is not None:
            intents.give_back(tx, row, intents.in_unit_of(cat, row, c.kind, rest, c.unit))
            session.add(row)


def receive_cancel(tx: Tx, body: LocalActor | None, sender: str, uri: str) -> bool:
    session = tx.session
    c = session.exec(select(Commitment).where(Commitment.uri == uri)).first()
    if c is None:
        return False
    if sender not in (c.provider, c.receiver):
        raise Problem(403, "not-a-party", "only the two sides of a commitment may cancel it")
    _cancel(tx, c)
    if body is not None:
        _give_back_rest(tx, body, c)
        rising.announce_rows(tx, body, [c.offer, c.need])
    return True


def events_of(session: Session, c: Commitment) -> list[EconomicEvent]:
    return list(session.exec(select(EconomicEvent).where(EconomicEvent.commitment == c.uri)
                             .order_by(col(EconomicEvent.happened_at))).all())


def view(ev: EconomicEvent) -> dict[str, Any]:
    return {"id": ev.id, "uri": ev.uri, "commitment": ev.commitment, "provider": ev.provider,
            "receiver": ev.receiver, "kind": ev.kind, "unit": ev.unit, "quantity": ev.quantity,
            "happened_at": wire.stamp(ev.happened_at), "state": ev.state, "note": ev.note}
