"""Exchanges: a match proposed by the node that found it, answered by every body
involved, and agreed (its commitments recorded) only when all of them accept.

- inside one body (`allocation`): the body's own offer meets its own need; the body
  answers (its facilitators, or the council of the giving enterprise);
- between bodies (`barter`): a federation proposes a closed cycle to its parties with
  an `Offer` of the draft `Agreement`; each party holds what the cycle asks of it and
  answers `Accept` or `Reject`; when all have accepted, the federation sends `Accept`
  with the signed `Agreement` as its result, and every node records the commitments.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.economy import intents, states, told, wire
from node.economy.catalogue import Catalogue, fmt
from node.economy.matcher import INF, Transfer
from node.errors import Problem, not_found
from node.models import Commitment, Exchange, Intent, LocalActor
from node.outbox.publish import new_uid
from node.storage.rowlock import locked
from node.tx import Tx


def _at(x: float) -> datetime | None:
    return datetime.fromtimestamp(x, UTC) if abs(x) != INF else None


def commitment_docs(urls: Urls, cat: Catalogue, exchange_uri: str, transfers: list[Transfer],
                    rows: dict[str, Intent]) -> list[wire.CommitmentDoc]:
    """Each transfer as a commitment, in the offer's own unit (rounded down)."""
    out = []
    for n, t in enumerate(transfers):
        offer = rows[t.offer]
        out.append(wire.CommitmentDoc(
            id=f"{exchange_uri}#c{n}", provider=rows[t.offer].body, receiver=rows[t.need].body,
            offer=t.offer, need=t.need, kind=t.kind, unit=offer.unit,
            quantity=cat.from_base(t.kind, t.base, offer.unit),
            starts_at=_at(t.start), ends_at=_at(t.end)))
    return [c for c in out if c.quantity > 0]


def in_unit(cat: Catalogue, c: wire.CommitmentDoc, row: Intent) -> Decimal:
    """A commitment's quantity in the unit of one of the intents it satisfies."""
    return intents.in_unit_of(cat, row, c.kind, c.quantity, c.unit)


def record(tx: Tx, exchange: Exchange, docs: list[wire.CommitmentDoc],
           agents: dict[str, str], state: str) -> None:
    """Create the exchange's commitments in `state` (a commitment already known keeps
    its own: only its graph moves it)."""
    session = tx.session
    for c in docs:
        if session.exec(select(Commitment.id).where(Commitment.uri == c.id)).first():
            continue
        session.add(Commitment(uri=c.id, exchange=exchange.uri, provider=c.provider,
                               receiver=c.receiver,
                               provider_agent=agents.get(c.offer, c.provider),
                               receiver_agent=agents.get(c.need, c.receiver), offer=c.offer,
                               need=c.need, kind=c.kind, unit=c.unit,
                               quantity=fmt(c.quantity), starts_at=c.starts_at,
                               ends_at=c.ends_at, state=state))


def commitments_of(session: Session, exchange: Exchange) -> list[Commitment]:
    return list(session.exec(select(Commitment).where(Commitment.exchange == exchange.uri)
                             .order_by(col(Commitment.uri))).all())


def docs_of(rows: list[Commitment]) -> list[wire.CommitmentDoc]:
    return [wire.CommitmentDoc(r.uri, r.provider, r.receiver, r.offer, r.need, r.kind, r.unit,
                               Decimal(r.quantity), r.starts_at, r.ends_at) for r in rows]


def propose(tx: Tx, cat: Catalogue, proposer: LocalActor, mode: str,
            parties: list[str], transfers: list[Transfer]) -> Exchange | None:
    """Record a match found here and hold its quantities in the intents we hold
    (recorded as the proposer's act, whoever set it in motion)."""
    session, urls = tx.session, tx.urls
    rows = {r.uri: r for r in session.exec(select(Intent).where(
        Intent.holder_id == proposer.id,
        col(Intent.uri).in_({t.offer for t in transfers} | {t.need for t in transfers}))).all()}
    uri = urls.obj(f"exchange-{new_uid()}")
    docs = commitment_docs(urls, cat, uri, transfers, rows)
    if not docs or (mode == "barter" and {c.provider for c in docs} != {c.receiver for c in docs}):
        return None
    for c in docs:
        intents.take(tx, rows[c.offer], c.quantity)
        intents.take(tx, rows[c.need], in_unit(cat, c, rows[c.need]))
        session.add(rows[c.offer])
        session.add(rows[c.need])
    ex = Exchange(uri=uri, proposer_id=proposer.id, proposer=urls.actor(proposer.handle),
                  mode=mode, parties=json.dumps(parties))
    session.add(ex)
    session.flush()
    record(tx, ex, docs, {u: r.agent for u, r in rows.items()}, "proposed")
    told.proposed(tx, proposer, ex, parties, docs)
    tx.acting_as(proposer).audit(f"economy.{mode}.proposed",
                                 f"exchange:{ex.id}", {"uri": uri, "parties": parties,
                                                       "commitments": len(docs)})
    return ex


def release(tx: Tx, cat: Catalogue, holder: LocalActor, exchange: Exchange) -> None:
    """Give back what the exchange held in the intents `holder` holds."""
    session = tx.session
    for doc in docs_of(commitments_of(session, exchange)):
        for uri in (doc.offer, doc.need):
            row = intents.held_by_uri(session, holder, uri)
            if row is not None:
                intents.give_back(tx, row, in_unit(cat, doc, row))
                session.add(row)


def by_uri(session: Session, uri: str) -> Exchange:
    row = session.exec(select(Exchange).where(Exchange.uri == uri)).first()
    if row is None:
        raise not_found("exchange")
    return row


def settle(tx: Tx, exchange: Exchange, state: str) -> None:
    """The exchange is agreed or refused; its commitments agreed or called off."""
    session = tx.session
    agreed = state == states.X.agreed
    states.EXCHANGE.move(session, exchange, "agree" if agreed else "refuse")
    session.add(exchange)
    for c in commitments_of(session, exchange):
        if c.state == states.C.proposed:
            states.COMMITMENT.move(session, c, "agree" if agreed else "call_off")
            session.add(c)


def answers(exchange: Exchange) -> dict[str, str]:
    return dict(json.loads(exchange.answers))


def still_to_accept(exchange: Exchange) -> list[str]:
    """The parties (actor URIs) whose acceptance the exchange still waits for."""
    got = answers(exchange)
    return [p for p in json.loads(exchange.parties) if got.get(p) != "accept"]


def note_answer(tx: Tx, exchange: Exchange, party: str, answer: str) -> dict[str, str]:
    # The parties of a cycle answer at once: each adds its answer to what the others'
    # committed ones left (read again, in place, under the row's write lock).
    locked(tx.session, Exchange, col(Exchange.id) == exchange.id)
    if party not in json.loads(exchange.parties):
        raise Problem(403, "not-a-party", f"{party} is not a party to this exchange")
    if exchange.state != "proposed":
        raise Problem(409, "not-proposed", f"this exchange is {exchange.state}")
    got = answers(exchange)
    got[party] = answer
    exchange.answers, exchange.updated_at = json.dumps(got, sort_keys=True), tx.now()
    return got


def view(session: Session, exchange: Exchange) -> dict[str, object]:
    return {
        "uri": exchange.uri, "id": exchange.id, "mode": exchange.mode,
        "proposer": exchange.proposer, "parties": json.loads(exchange.parties),
        "answers": answers(exchange), "state": exchange.state,
        "agreement": exchange.uri if exchange.state == "agreed" else "",
        "commitments": [commitment_view(c) for c in commitments_of(session, exchange)],
    }


def commitment_view(c: Commitment) -> dict[str, object]:
    return {"id": c.id, "uri": c.uri, "provider": c.provider, "receiver": c.receiver,
            "provider_agent": c.provider_agent, "receiver_agent": c.receiver_agent,
            "offer": c.offer, "need": c.need, "kind": c.kind, "unit": c.unit,
            "quantity": c.quantity, "delivered": c.delivered, "state": c.state}


def of_body(session: Session, body_uri: str, body: LocalActor,
            limit: int = 500) -> list[Exchange]:
    """Exchanges the body proposed or is a party to, newest first."""
    rows = session.exec(select(Exchange).order_by(col(Exchange.id).desc()).limit(limit)).all()
    return [e for e in rows if e.proposer_id == body.id or body_uri in json.loads(e.parties)]
