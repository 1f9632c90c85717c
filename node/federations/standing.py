"""Where a federated matter stands on the federation tree, for the pictures: for each
member body, whether it has voted, has only mandated its spokespersons, or has done
neither yet. Read with the rules outcomes.count applies, so the picture never shows
as counted a vote the federation would not count."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.federations.membership import members_of
from node.governance.proposals import body_of
from node.models import Proposal
from node.models.matters import Mandate, MandatedVote

VOTED, MANDATED, PENDING = "voted", "mandated", "pending"


@dataclass(frozen=True)
class Standing:
    body: str  # the member body's actor URI
    state: str  # voted | mandated | pending
    position: str = ""  # the live mandate's position, if any
    choice: str = ""  # the vote's choice, if voted


@dataclass(frozen=True)
class Tree:
    federation: str  # the federation deciding the matter
    members: list[Standing]
    whole: bool  # every member body is known here (at the federation), or only ours


def on_tree(session: Session, urls: Urls, proposal: Proposal) -> Tree | None:
    """At the federation that decides the matter: every accepted member body. At a
    member body that received it: the federation above and this body only (the others'
    mandates are theirs and the federation's). None for a matter not federated."""
    if not proposal.matter:
        return None
    body = body_of(session, proposal)
    if proposal.electorate == "bodies":
        mandates = _live(session, proposal.matter)
        votes = {v.member_body: v for v in session.exec(select(MandatedVote).where(
            MandatedVote.proposal_id == proposal.id, MandatedVote.state == "counted",
            MandatedVote.version == proposal.current_version)).all()
            if v.mandate_uri in {m.uri for m in mandates.values()}}
        return Tree(urls.actor(body.handle),
                    [_standing(b, mandates.get(b), votes.get(b))
                     for b in members_of(session, body)], whole=True)
    if not proposal.answers_to:
        return None
    own = urls.actor(body.handle)
    mandates = _live(session, proposal.matter, col(Mandate.member_body) == own)
    sent = session.exec(select(MandatedVote).where(
        MandatedVote.proposal_id == proposal.id, MandatedVote.member_body == own,
        MandatedVote.state == "sent")).first()
    mandate = mandates.get(own)
    vote = sent if sent is not None and mandate is not None and \
        sent.mandate_uri == mandate.uri else None
    return Tree(proposal.answers_to, [_standing(own, mandate, vote)], whole=False)


def _live(session: Session, matter: str, *where: ColumnElement[bool]
          ) -> dict[str, Mandate]:
    """The newest live mandate on `matter` of each member body (those `where` allows)."""
    rows = session.exec(select(Mandate).where(
        Mandate.matter == matter, Mandate.state == "live", *where)
        .order_by(col(Mandate.id))).all()
    return {m.member_body: m for m in rows}


def _standing(body: str, mandate: Mandate | None, vote: MandatedVote | None) -> Standing:
    if vote is not None and mandate is not None:
        return Standing(body, VOTED, mandate.position, vote.choice)
    if mandate is not None:
        return Standing(body, MANDATED, mandate.position)
    return Standing(body, PENDING)
