"""Federated matters told to the bodies' members (node/events): a mandate given or
recalled, on the member body's node and at the federation; a federation's decision
arriving. Names, never URLs, in what people read."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, select

from node.events import kinds
from node.federations.names import fallback, name_of
from node.models import LocalActor, Member, Proposal
from node.models.matters import Mandate
from node.tx import Tx


def _spokespersons(session: Session, base: str, mandate: Mandate) -> list[int]:
    """Our members among a mandate's spokespersons (named by URI in it)."""
    prefix = f"{base.rstrip('/')}/members/"
    usernames = [u[len(prefix):] for u in json.loads(mandate.spokespersons or "[]")
                 if isinstance(u, str) and u.startswith(prefix)]
    if not usernames:
        return []
    return [i for i in session.exec(select(Member.id).where(
        col(Member.username).in_(usernames))).all() if i is not None]


def _title(session: Session, proposal: Proposal | None) -> str:
    return kinds.title_of(session, proposal) if proposal else ""


def mandate_given(tx: Tx, body: LocalActor, mandate: Mandate, proposal: Proposal) -> None:
    """`body` gave its mandate on `proposal` (ours): its spokespersons are named."""
    session, urls = tx.session, tx.urls
    kinds.mandate_given(tx, body, mandate, proposal.id, _title(session, proposal),
                        name_of(session, urls, mandate.federation),
                        _spokespersons(session, urls.base, mandate))


def mandate_recalled(tx: Tx, body: LocalActor, mandate: Mandate) -> None:
    session, urls = tx.session, tx.urls
    proposal = session.get(Proposal, mandate.proposal_id) if mandate.proposal_id else None
    kinds.mandate_recalled(tx, body, mandate, mandate.proposal_id, _title(session, proposal),
                           name_of(session, urls, mandate.federation),
                           _spokespersons(session, urls.base, mandate))


def at_federation(tx: Tx, federation: LocalActor, mandate: Mandate, row: Proposal | None,
                  recalled: bool = False) -> None:
    """A member body's mandate given (or recalled) at this federation, told to the
    federation's members."""
    session, urls = tx.session, tx.urls
    giver = name_of(session, urls, mandate.member_body)
    told = kinds.mandate_recalled if recalled else kinds.mandate_given
    told(tx, federation, mandate, row.id if row else None, _title(session, row), federation.name,
         member_body_name=giver)


def decision_arrived(tx: Tx, body: LocalActor, rows: list[Proposal], note: dict[str, Any],
                     author: str) -> None:
    session, urls = tx.session, tx.urls
    name = note.get("name")
    kinds.decision_arrived(tx, body, rows, author,
                           name_of(session, urls, author) if author else fallback(author),
                           str(note.get("outcome", ""))[:16],
                           name[:300] if isinstance(name, str) else "")
