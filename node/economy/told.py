"""An exchange put to a body, told to its members (node/events): who proposes it,
between whom, and what it moves, by name."""

from __future__ import annotations

from sqlmodel import Session

from node.economy import intents, wire
from node.economy.catalogue import fmt
from node.events import kinds
from node.federations.names import names
from node.models import Exchange, LocalActor
from node.tx import Tx


def _asked(session: Session, body_uri: str, docs: list[wire.CommitmentDoc],
           who: dict[str, str]) -> list[str]:
    cat = intents.catalogue(session)
    out = []
    # What concerns the body; a federation brokering is neither side: all of it.
    for c in [c for c in docs if body_uri in (c.provider, c.receiver)] or docs:
        kind = cat.kind(c.kind)
        label = kind.label("es") if kind else c.kind.rsplit("/", 1)[-1]
        out.append(f"{fmt(c.quantity)} {c.unit} de {label}, de {who[c.provider]} "
                   f"para {who[c.receiver]}")
    return out


def proposed(tx: Tx, body: LocalActor, exchange: Exchange, parties: list[str],
             docs: list[wire.CommitmentDoc]) -> None:
    session, urls = tx.session, tx.urls
    here = urls.actor(body.handle)
    who = names(session, urls, [exchange.proposer, *parties,
                                *(u for c in docs for u in (c.provider, c.receiver))])
    kinds.exchange_proposed(tx, body, exchange, who[exchange.proposer], parties,
                            [who[p] for p in parties], _asked(session, here, docs, who))
