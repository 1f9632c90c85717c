"""A body's side of a barter exchange a federation proposed: check that what the
cycle asks of the body is its own and still available, hold it, let the body answer,
and record the agreement when it comes."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlmodel import Session, select

from node.economy import exchanges, intents, rising, states, told, wire
from node.economy.catalogue import fmt
from node.errors import Problem
from node.models import Exchange, Intent, LocalActor
from node.outbox.publish import new_uid, publish
from node.tx import Tx


class Shortfall(Problem):
    """What an exchange asks of us is gone (`withdrawn`) or more than is left
    (`exhausted`): said with that code, naming the offers and needs concerned, so the
    proposer stops proposing on its copies of them."""

    def __init__(self, code: str, detail: str, intents: list[str]) -> None:
        super().__init__(409, code, detail)
        self.intents = intents


def _mine(session: Session, body: LocalActor, uri: str, side: str) -> Intent:
    row = intents.own_by_uri(session, body, uri)
    if row is None or row.side != side:
        raise Problem(422, "not-ours", f"{uri} is not an {side} of this body")
    return row


def _asked(session: Session, body_uri: str, body: LocalActor,
           docs: list[wire.CommitmentDoc]) -> list[tuple[Intent, Decimal]]:
    """What the exchange asks of this body, in its intents' units, checked."""
    cat = intents.catalogue(session)
    out = []
    for c in docs:
        if c.provider == body_uri:
            row = _mine(session, body, c.offer, "offer")
            out.append((row, exchanges.in_unit(cat, c, row)))
        if c.receiver == body_uri:
            row = _mine(session, body, c.need, "need")
            out.append((row, exchanges.in_unit(cat, c, row)))
    for row, _ in out:
        if row.kind != next(c.kind for c in docs if row.uri in (c.offer, c.need)):
            raise Problem(422, "wrong-kind", f"{row.uri} is not of the kind committed")
    gone = [row.uri for row, _ in out if row.state == "withdrawn"]
    if gone:
        raise Shortfall("withdrawn", f"withdrawn by this body: {', '.join(gone)}", gone)
    short = [(row, amount) for row, amount in out
             if row.state != "open" or Decimal(row.available) < amount]
    if short:
        raise Shortfall("exhausted", "; ".join(
            f"{row.uri}: {fmt(amount)} {row.unit} asked, {row.available} {row.unit} left "
            "(the rest is committed or held by other exchanges)" for row, amount in short),
            [row.uri for row, _ in short])
    return out


def receive_offer(tx: Tx, body: LocalActor, body_uri: str, proposer: str,
                  proposer_inbox: str, draft: dict[str, object]) -> Exchange:
    """A federation proposes an exchange to us; a 4xx Problem if it cannot stand."""
    session = tx.session
    uri, author, docs = wire.read_agreement(draft)
    if author != proposer:
        raise Problem(422, "malformed", "the agreement is not the proposer's")
    if session.exec(select(Exchange).where(Exchange.uri == uri)).first() is not None:
        raise Problem(409, "exists", "this exchange is known already")
    parties = sorted({c.provider for c in docs} | {c.receiver for c in docs})
    if body_uri not in parties:
        raise Problem(403, "not-a-party", "this exchange asks nothing of this body")
    for row, amount in _asked(session, body_uri, body, docs):
        intents.take(tx, row, amount)
        session.add(row)
    ex = Exchange(uri=uri, proposer=proposer, mode="barter", parties=json.dumps(parties),
                  inboxes=json.dumps({proposer: proposer_inbox}))
    session.add(ex)
    session.flush()
    exchanges.record(tx, ex, docs, {}, "proposed")
    told.proposed(tx, body, ex, parties, docs)
    tx.acting_as(f"remote:{proposer}").audit("economy.barter.proposed", f"exchange:{ex.id}",
                                             {"uri": uri, "parties": parties})
    return ex


def refuse_unknown(tx: Tx, body: LocalActor, proposer_inbox: str,
                   exchange_uri: str, reason: str, code: str = "",
                   intents_named: list[str] | None = None) -> None:
    """Answer a proposal we could not take: the stable code as `summary` (as the inbox's
    refusals do), the reason as `content`, and for a shortfall the offers and needs
    concerned as `target`. A withdrawn one is announced again to our federations, in
    case the first word of it was lost on the way."""
    urls = tx.urls
    reject: dict[str, object] = {
        "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
        "type": "Reject", "actor": urls.actor(body.handle), "object": exchange_uri,
        "content": reason[:1000]}
    if code:
        reject["summary"] = code
    if intents_named:
        reject["target"] = intents_named[:100]
    publish(tx, body, reject, to_followers=False, inboxes={proposer_inbox})
    if code == "withdrawn":
        rising.announce_rows(tx, body, intents_named or [])


def answer(tx: Tx, body: LocalActor, ex: Exchange, accept: bool, reason: str = "") -> None:
    """The body answers (its facilitators, or the councils of the enterprises that
    give and receive in it)."""
    session, urls = tx.session, tx.urls
    me = urls.actor(body.handle)
    if ex.proposer_id is not None or me not in json.loads(ex.parties):
        raise Problem(404, "not-found", "no such exchange")
    states.require(session, urls, tx.member, body, ex, "accept" if accept else "refuse")
    exchanges.note_answer(tx, ex, me, "accept" if accept else "refuse")
    proposer_inbox = json.loads(ex.inboxes).get(ex.proposer, "")
    publish(tx, body, {
        "@context": wire.contexts(urls.context), "id": urls.activity(new_uid()),
        "type": "Accept" if accept else "Reject", "actor": me, "object": ex.uri,
        "content": reason[:1000], "to": [ex.proposer]},
        to_followers=False, inboxes={proposer_inbox} if proposer_inbox else set())
    if not accept:
        exchanges.release(tx, intents.catalogue(session), body, ex)
        exchanges.settle(tx, ex, "refused")
        _announce_released(tx, body, ex)
    session.add(ex)
    tx.audit("economy.barter." + ("accepted" if accept else "refused"),
             f"exchange:{ex.id}", {"uri": ex.uri})


def receive_agreement(tx: Tx, body: LocalActor, proposer: str,
                      agreement: dict[str, object]) -> bool:
    """The proposer sealed the exchange: record the commitments as agreed and tell our
    federations what is left of our intents."""
    session, urls = tx.session, tx.urls
    uri, author, docs = wire.read_agreement(agreement)
    ex = session.exec(select(Exchange).where(Exchange.uri == uri)).first()
    if ex is None or author != proposer or ex.proposer != proposer or ex.state != "proposed":
        return False
    known = {(c.uri, c.quantity) for c in exchanges.commitments_of(session, ex)}
    if known != {(c.id, fmt(c.quantity)) for c in docs}:
        raise Problem(422, "agreement-differs",
                      "the agreement is not the exchange that was proposed")
    exchanges.settle(tx, ex, "agreed")
    me = urls.actor(body.handle)
    refs = [c.offer for c in docs if c.provider == me] + [c.need for c in docs
                                                          if c.receiver == me]
    rising.announce_rows(tx, body, refs)
    tx.acting_as(f"remote:{proposer}").audit("economy.barter.agreed", f"exchange:{ex.id}",
                                             {"uri": uri})
    return True


def receive_called_off(tx: Tx, body: LocalActor, proposer: str, uri: str) -> bool:
    """Another party refused: the proposer calls the exchange off; we give back."""
    session = tx.session
    ex = session.exec(select(Exchange).where(Exchange.uri == uri)).first()
    if ex is None or ex.proposer != proposer or ex.state != "proposed":
        return False
    exchanges.release(tx, intents.catalogue(session), body, ex)
    exchanges.settle(tx, ex, "refused")
    _announce_released(tx, body, ex)
    return True


def _announce_released(tx: Tx, body: LocalActor, ex: Exchange) -> None:
    """What a called-off exchange held is free again: a federation that found one of
    our offers or needs short (and stopped proposing on it) hears it may try again."""
    rising.announce_rows(tx, body, [
        u for c in exchanges.commitments_of(tx.session, ex) for u in (c.offer, c.need)])
