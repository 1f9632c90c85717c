"""A mandate's life, and who may do what with one now.

live: the member body's word at the federation, carried by its spokespersons.
recalled: the body took it back; lapsed: an amendment it does not allow was adopted;
superseded: a newer mandate replaced it; refused: the federation refused a vote cast
under it (or the mandate itself), with the reason it gave, kept on the mandate. A
refusal is not the end: a vote sent too early may be sent again once the federation
opens its vote, and a vote the federation takes makes the mandate live again.

`available_actions` is the one answer to "what may this person do with this mandate":
the mutators in mandates.py refuse what it does not offer, the pages show only what
it offers, and the JSON API lists it as `actions`."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, select

from node.activitypub.urls import Urls
from node.errors import Problem, conflict
from node.federations import matters, objects
from node.governance.authz import require_member
from node.governance.members import roles_in
from node.lifecycle import Graph
from node.models import LocalActor, Member, Proposal
from node.models.base import aware
from node.models.matters import Mandate, MandatedVote


class MandateState(StrEnum):
    live = "live"
    recalled = "recalled"
    lapsed = "lapsed"
    superseded = "superseded"
    refused = "refused"


M = MandateState

MANDATE = (
    Graph("mandate", Mandate, MandateState)
    # A self-loop: a vote sent under a mandate and its recall cannot cross, and a vote
    # sent again after a refusal makes the mandate live again.
    .step("vote", [M.live, M.refused], M.live)
    .step("recall", [M.live, M.refused], M.recalled)
    .step("supersede", [M.live, M.refused], M.superseded)
    .step("lapse", [M.live], M.lapsed)
    .step("refuse", [M.live, M.refused], M.refused)
)



class VoteState(StrEnum):
    """A vote cast under a mandate. At the member body, the vote its spokesperson sent:
    sent, or refused by the federation (and sent again). At the federation: counted, or
    withdrawn when its mandate was recalled or lapsed before the close."""

    sent = "sent"
    refused = "refused"
    counted = "counted"
    withdrawn = "withdrawn"


V = VoteState

# One row per body and matter: a newer vote replaces it (created in its first state).
MANDATED_VOTE = (
    Graph("mandated vote", MandatedVote, VoteState)
    .step("resend", [V.sent, V.refused], V.sent)
    .step("refuse", [V.sent, V.refused], V.refused)
    .step("recount", [V.counted, V.withdrawn], V.counted)
    .step("withdraw", [V.counted], V.withdrawn)
)

# The choices a spokesperson may send, as actions.
VOTE_ACTIONS = {c: f"vote_{c}" for c in objects.CHOICES}


def issuing_body(session: Session, urls: Urls, mandate: Mandate) -> LocalActor | None:
    """Our body that gave the mandate (None on the federation's side)."""
    handle = urls.handle_of_actor(mandate.member_body)
    if handle is None:
        return None
    return session.exec(select(LocalActor).where(LocalActor.handle == handle)).first()


def expired(mandate: Mandate, now: datetime) -> bool:
    return mandate.expires_at is not None and aware(mandate.expires_at) <= now


def voting_choices(session: Session, urls: Urls, member: Member | None, mandate: Mandate,
                   body: LocalActor, now: datetime) -> set[str]:
    """The choices `member` may send under `mandate` now; a Problem saying why if none."""
    require_member(session, member, body)
    assert member is not None
    if matters.spokesperson_uri(urls, member) not in json.loads(mandate.spokespersons):
        raise Problem(403, "not-spokesperson", "only this mandate's spokespersons vote under it")
    if not MANDATE.may("vote", mandate.state) or expired(mandate, now):
        raise conflict("mandate-not-live", "this mandate was recalled, replaced or expired")
    # Named on the mandate is not enough: the body may have taken the role away since,
    # and that takes effect at once (the federation cannot know; we sign nothing).
    if "spokesperson" not in roles_in(session, member, body):
        raise Problem(403, "not-spokesperson", "only this mandate's spokespersons vote under it")
    if matter_decided(session, mandate):
        raise conflict("matter-decided", "the federation has already decided this matter")
    named = json.loads(mandate.amendments)
    # The federation knows which amendments are in the text; here only what no
    # adopted amendment could change is checked.
    return objects.allowed_choices(mandate.position, named, set(named)) | \
        objects.allowed_choices(mandate.position, named, set())


def matter_decided(session: Session, mandate: Mandate) -> bool:
    """The federation decided the matter: a mandate on it is no longer used or recalled."""
    proposal = session.get(Proposal, mandate.proposal_id) if mandate.proposal_id else None
    return proposal is not None and bool(proposal.final_outcome)


def available_actions(session: Session, urls: Urls, member: Member | None,
                      mandate: Mandate, now: datetime) -> list[str]:
    """`vote_for`, `vote_against`, `vote_abstain` (a spokesperson, within the mandate's
    position) and `recall` (the body's coordinators), for a mandate our body gave and
    that may still take them. Nothing on the federation's side: there a mandate is
    only received."""
    body = issuing_body(session, urls, mandate)
    if body is None or member is None:
        return []
    actions: list[str] = []
    try:
        choices = voting_choices(session, urls, member, mandate, body, now)
    except Problem:
        choices = set()
    actions += [VOTE_ACTIONS[c] for c in objects.CHOICES if c in choices]
    if MANDATE.may("recall", mandate.state) and not matter_decided(session, mandate) and \
            "facilitator" in roles_in(session, member, body):
        actions.append("recall")
    return actions
