"""A federation brokering barter between its members: it matches the offers and
needs it holds into closed cycles, proposes each to its parties, gathers their
answers, and seals the agreement when every party has accepted."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, select

from node.economy import exchanges, intents, rising, wire
from node.economy.matcher import barter
from node.errors import Problem
from node.models import Commitment, Exchange, JointPlan, LocalActor
from node.outbox.publish import forward, new_uid, publish
from node.tx import Tx


def run(tx: Tx, federation: LocalActor) -> list[Exchange]:
    """Match what this federation holds; propose every cycle found."""
    session, urls = tx.session, tx.urls
    held = [r for r in intents.held(session, federation) if r.received_from]
    offers = [r for r in held if r.side == "offer"]
    needs = [r for r in held if r.side == "need"]
    if not offers or not needs:
        return []
    cat = intents.catalogue(session)
    inbox = {r.body: r.body_inbox for r in held if r.body_inbox}
    out = []
    for found in barter(intents.wants(cat, offers), intents.wants(cat, needs)):
        parties = list(found.parties)
        if not all(p in inbox for p in parties):
            continue
        ex = exchanges.propose(tx, cat, federation, "barter", parties,
                               list(found.transfers))
        if ex is None:
            continue
        ex.inboxes = json.dumps({p: inbox[p] for p in parties}, sort_keys=True)
        session.add(ex)
        docs = exchanges.docs_of(exchanges.commitments_of(session, ex))
        draft = wire.agreement_object(ex.uri, urls.actor(federation.handle), docs,
                                      wire.stamp_of(tx.now()))
        publish(tx, federation, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Offer", "actor": urls.actor(federation.handle), "object": draft,
            "to": parties}, to_followers=False, inboxes={inbox[p] for p in parties})
        out.append(ex)
    return out


# Refusals that say what the exchange asked of the party is gone or short
# (party.Shortfall): the copies concerned are not proposed on again as they were.
SHORTFALLS = ("withdrawn", "exhausted")


def receive_answer(tx: Tx, federation: LocalActor, party: str,
                   exchange_uri: str, accept: bool, reason: str = "", code: str = "",
                   named: list[str] | None = None) -> Exchange:
    """A party's `Accept` or `Reject` of a proposed exchange (only a party's counts).
    A refusal's `code` and the offers and needs it `named` say why."""
    session, urls = tx.session, tx.urls
    ex = exchanges.by_uri(session, exchange_uri)
    if ex.proposer_id != federation.id:
        raise Problem(404, "not-found", "no such exchange")
    got = exchanges.note_answer(tx, ex, party, "accept" if accept else "refuse")
    inboxes: dict[str, str] = json.loads(ex.inboxes)
    me = urls.actor(federation.handle)
    if not accept:
        exchanges.release(tx, intents.catalogue(session), federation, ex)
        exchanges.settle(tx, ex, "refused")
        if code in SHORTFALLS:
            rising.shortfall(tx, federation, ex, party, code, named or [])
        others = {i for p, i in inboxes.items() if p != party}
        publish(tx, federation, {
            "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
            "type": "Reject", "actor": me, "object": ex.uri,
            "content": f"{party} refused: {reason}"[:1000], "to": sorted(inboxes)},
            to_followers=False, inboxes=others)
    elif set(got) == set(json.loads(ex.parties)) and all(a == "accept" for a in got.values()):
        seal(tx, federation, ex, inboxes)
    session.add(ex)
    tx.acting_as(f"remote:{party}").audit("economy.barter.answer", f"exchange:{ex.id}",
                                          {"uri": ex.uri, "accept": accept, "state": ex.state})
    return ex


def seal(tx: Tx, federation: LocalActor, ex: Exchange,
         inboxes: dict[str, str]) -> dict[str, Any]:
    """Every party accepted: the agreement, signed, to every party."""
    urls = tx.urls
    exchanges.settle(tx, ex, "agreed")
    docs = exchanges.docs_of(exchanges.commitments_of(tx.session, ex))
    agreement = rising.signed(urls, federation, wire.agreement_object(
        ex.uri, urls.actor(federation.handle), docs, wire.stamp_of(tx.now())))
    activity = {"@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
                "type": "Accept", "actor": urls.actor(federation.handle), "object": ex.uri,
                "result": agreement, "to": sorted(inboxes)}
    publish(tx, federation, activity, to_followers=False,
            inboxes=set(inboxes.values()))
    return agreement


def party_exchanges(session: Session, federation: LocalActor) -> list[Exchange]:
    return list(session.exec(select(Exchange).where(Exchange.proposer_id == federation.id)
                             .order_by(Exchange.id.desc())).all())  # type: ignore[union-attr]


def relay(tx: Tx, federation: LocalActor, activity: dict[str, Any],
          commitment_uri: str, sender: str) -> bool:
    """Pass a delivery, its confirmation or a cancellation between the two sides of a
    commitment in an exchange we proposed (they know only us), unchanged: the
    receiving side checks its author's own proof."""
    session, urls = tx.session, tx.urls
    c = session.exec(select(Commitment).where(Commitment.uri == commitment_uri)).first()
    if c is None or sender not in (c.provider, c.receiver):
        return False
    other = c.receiver if sender == c.provider else c.provider
    ex = session.exec(select(Exchange).where(Exchange.uri == c.exchange)).first()
    plan = session.exec(select(JointPlan).where(JointPlan.uri == c.exchange,
                                                JointPlan.body_id == federation.id)).first()
    if ex is not None and ex.proposer_id == federation.id:
        inbox = json.loads(ex.inboxes).get(other)
    elif plan is not None and plan.initiator == urls.actor(federation.handle) and \
            other != plan.initiator:
        # A joint plan's initiator relays between participants who only know it.
        inbox = json.loads(plan.participants).get(other)
    else:
        return False
    if inbox:
        forward(tx, federation, activity, {inbox})
    return True
