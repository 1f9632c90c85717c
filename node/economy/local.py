"""Local first: inside one body, its own offers meet its own needs before anything
rises. A match holds the quantities at once (so that they do not rise) and waits for
the body's answer."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from node.economy import exchanges, intents, rising, states
from node.economy.matcher import allocate
from node.errors import Problem
from node.models import Exchange, LocalActor
from node.tx import Tx


def _refused_pairs(session: Session, body: LocalActor) -> set[tuple[str, str]]:
    """Offer/need pairs the body already turned down: not proposed again."""
    refused = session.exec(select(Exchange).where(
        Exchange.proposer_id == body.id, Exchange.mode == "allocation",
        Exchange.state == "refused")).all()
    return {(c.offer, c.need) for ex in refused for c in exchanges.commitments_of(session, ex)}


def match(tx: Tx, body: LocalActor) -> list[Exchange]:
    session, urls = tx.session, tx.urls
    own = [r for r in intents.held(session, body) if not r.received_from]
    offers = [r for r in own if r.side == "offer"]
    needs = [r for r in own if r.side == "need"]
    if not offers or not needs:
        return []
    cat = intents.catalogue(session)
    skip = _refused_pairs(session, body)
    found = []
    here = urls.actor(body.handle)
    for t in allocate(intents.wants(cat, offers, "agent"), intents.wants(cat, needs, "agent")):
        if (t.offer, t.need) in skip:
            continue
        ex = exchanges.propose(tx, cat, body, "allocation", [here], [t])
        if ex is not None:
            found.append(ex)
    return found


def answer(tx: Tx, body: LocalActor, exchange: Exchange, accept: bool) -> None:
    """The body answers a match inside itself: its facilitators, or the council of the
    enterprise that gives."""
    session, urls = tx.session, tx.urls
    if exchange.proposer_id != body.id or exchange.mode != "allocation":
        raise Problem(404, "not-found", "no such exchange")
    rows = exchanges.commitments_of(session, exchange)
    if not rows:
        raise Problem(409, "empty-exchange", "this exchange has no commitment")
    states.require(session, urls, tx.member, body, exchange, "accept" if accept else "refuse")
    exchanges.note_answer(tx, exchange, urls.actor(body.handle), "accept" if accept else "refuse")
    if accept:
        exchanges.settle(tx, exchange, "agreed")
    else:
        exchanges.release(tx, intents.catalogue(session), body, exchange)
        exchanges.settle(tx, exchange, "refused")
    # An offer or need that had already risen tells its federations what is left (0
    # once this match took all of it, which withdraws their copies).
    rising.announce_rows(tx, body, [u for c in rows for u in (c.offer, c.need)])
    session.add(exchange)
    tx.audit("economy.allocation." + ("agreed" if accept else "refused"),
             f"exchange:{exchange.id}", {"uri": exchange.uri,
                                         "parties": json.loads(exchange.parties)})
