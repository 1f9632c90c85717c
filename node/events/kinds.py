"""Each kind of event as the domain tells it: the Spanish sentence (with names, never
URLs) and the fields a client reads. Called by the domain functions where the thing
happens, inside their transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, select

from node.events import (
    AMENDMENT_VOTE_OPENED,
    DECISION_ARRIVED,
    DECISION_RECORDED,
    EXCHANGE_PROPOSED,
    MANDATE_GIVEN,
    MANDATE_RECALLED,
    OUTCOME_ES,
    VOTE_OPENED,
    record,
)
from node.models import (
    Amendment,
    Decision,
    Exchange,
    LocalActor,
    Mandate,
    Proposal,
    ProposalVersion,
)
from node.models.base import aware
from node.tx import Tx

POSITION_ES = {"approve": "aprobar", "reject": "rechazar", "abstain": "abstenerse",
               "approve_with_amendments": "aprobar con enmiendas",
               "free": "negociar dentro de sus límites"}


def title_of(session: Session, proposal: Proposal) -> str:
    found = session.exec(select(ProposalVersion.title).where(
        ProposalVersion.proposal_id == proposal.id,
        ProposalVersion.number == proposal.current_version)).first()
    return found or ""


def _stamp(when: datetime | None) -> str | None:
    return aware(when).isoformat() if when else None


def vote_opened(tx: Tx, body: LocalActor, proposal: Proposal) -> None:
    title = title_of(tx.session, proposal)
    record(tx, VOTE_OPENED, body, f"proposal:{proposal.id}",
           f"Votación abierta en {body.name}: «{title}».",
           {"proposal": proposal.id, "title": title, "version": proposal.current_version,
            "closes_at": _stamp(proposal.closes_at)})


def amendment_vote_opened(tx: Tx, body: LocalActor, proposal: Proposal,
                          amendment: Amendment) -> None:
    title = title_of(tx.session, proposal)
    record(tx, AMENDMENT_VOTE_OPENED, body, f"proposal:{proposal.id}",
           f"Votación abierta en {body.name} sobre la enmienda «{amendment.title}» "
           f"a «{title}».",
           {"proposal": proposal.id, "title": title, "amendment": amendment.id,
            "amendment_title": amendment.title, "closes_at": _stamp(amendment.closes_at)})


def decision_recorded(tx: Tx, body: LocalActor, proposal: Proposal,
                      decision: Decision) -> None:
    title = title_of(tx.session, proposal)
    record(tx, DECISION_RECORDED, body, f"proposal:{proposal.id}",
           f"{body.name} decidió «{title}»: {OUTCOME_ES.get(decision.outcome, decision.outcome)}.",
           {"proposal": proposal.id, "title": title, "decision": decision.id,
            "outcome": decision.outcome, "method": decision.method,
            "version": decision.version})


def decision_arrived(tx: Tx, body: LocalActor, proposals: list[Proposal], federation: str,
                     federation_name: str, outcome: str, title: str) -> None:
    """A federation's final decision on a matter this body took part in."""
    title = title or (title_of(tx.session, proposals[0]) if proposals else "")
    record(tx, DECISION_ARRIVED, body, f"body:{body.handle}",
           f"Llegó la decisión de {federation_name} sobre «{title}»: "
           f"{OUTCOME_ES.get(outcome, outcome)}.",
           {"proposals": [p.id for p in proposals], "title": title, "outcome": outcome,
            "federation": federation, "federation_name": federation_name})


def mandate_given(tx: Tx, body: LocalActor, mandate: Mandate, proposal_id: int | None,
                  title: str,
                  federation_name: str, spokespersons: Iterable[int] = (),
                  member_body_name: str = "") -> None:
    """A mandate given: by `body` itself (its spokespersons named), or, at a
    federation, by one of its member bodies (`member_body_name`)."""
    giver = member_body_name or body.name
    people = sorted(set(spokespersons))
    record(tx, MANDATE_GIVEN, body, f"mandate:{mandate.id}",
           f"{giver} dio su mandato sobre «{title}» en {federation_name}: "
           f"{POSITION_ES.get(mandate.position, mandate.position)}.",
           {"mandate": mandate.id, "proposal": proposal_id, "title": title,
            "position": mandate.position, "version": mandate.version,
            "federation": mandate.federation, "federation_name": federation_name,
            "member_body": mandate.member_body, "member_body_name": giver,
            "spokespersons": people},
           people=people)


def mandate_recalled(tx: Tx, body: LocalActor, mandate: Mandate, proposal_id: int | None,
                     title: str,
                     federation_name: str, spokespersons: Iterable[int] = (),
                     member_body_name: str = "") -> None:
    giver = member_body_name or body.name
    people = sorted(set(spokespersons))
    record(tx, MANDATE_RECALLED, body, f"mandate:{mandate.id}",
           f"{giver} revocó su mandato sobre «{title}» en {federation_name}.",
           {"mandate": mandate.id, "proposal": proposal_id, "title": title,
            "federation": mandate.federation, "federation_name": federation_name,
            "member_body": mandate.member_body, "member_body_name": giver,
            "spokespersons": people},
           people=people)


def exchange_proposed(tx: Tx, body: LocalActor, exchange: Exchange, proposer_name: str,
                      parties: list[str], party_names: list[str], asked: list[str]) -> None:
    """An exchange put to `body`: found inside it (`allocation`), proposed to it by a
    federation, or proposed by it (a federation brokering) to its members. `asked`:
    what it moves, as people read it ("10 kg de gas")."""
    what = "; ".join(asked)
    if exchange.proposer_id == body.id and exchange.mode != "allocation":
        said = f"{body.name} propone un intercambio entre {', '.join(party_names)}"
    else:
        said = f"{proposer_name} propone un intercambio a {body.name}"
    record(tx, EXCHANGE_PROPOSED, body, f"exchange:{exchange.id}",
           said + (f": {what}." if what else "."),
           {"exchange": exchange.id, "uri": exchange.uri, "mode": exchange.mode,
            "proposer": exchange.proposer, "proposer_name": proposer_name,
            "parties": parties, "party_names": party_names, "asked": asked})
