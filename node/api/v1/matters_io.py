"""What the JSON API answers about federated matters: mandates, the votes carried
under them, sending up, verification."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import Field

from node.api.v1.outputs import Out
from node.api.v1.views import iso
from node.models.matters import Mandate, MandatedVote


class RefusalOut(Out):
    code: str = Field(description="the federation's stable code (e.g. vote-closed), or empty")
    reason: str = Field(description="the federation's own words")
    at: datetime | None


class MandateOut(Out):
    id: int
    uri: str
    member_body: str
    federation: str
    matter: str
    version: int
    position: str = Field(description="approve, reject, abstain, approve_with_amendments, "
                                      "free")
    amendments: list[str]
    limits: str
    spokespersons: list[str]
    families: int
    expires_at: datetime | None
    state: str = Field(description="live, recalled, lapsed, superseded or refused (the "
                                   "federation refused a vote cast under it, or the mandate)")
    refusal: RefusalOut | None = Field(description="why the federation refused, while the "
                                                   "mandate is refused")
    actions: list[str] = Field(description="what the caller may do with it now: vote_for, "
                                           "vote_against, vote_abstain, recall")
    proposal_id: int | None
    created_at: datetime | None


class MandatedVoteOut(Out):
    id: int
    uri: str
    member_body: str
    mandate: str
    spokesperson: str
    version: int
    choice: str
    state: str = Field(description="at the federation: counted or withdrawn; at the member "
                                   "body, the vote it sent: sent or refused")
    cast_at: datetime | None


class SentUp(Out):
    route: str
    level: str | None
    reason: str
    sent_to: str | None


class VoteSent(Out):
    vote: str = Field(description="URI of the signed vote sent to the federation")


class VerificationOut(Out):
    decision: str
    holds: bool
    outcome: str
    counted: dict[str, int]
    votes: list[str]
    problems: list[str]


def mandate_view(m: Mandate, actions: list[str] | None = None) -> dict[str, Any]:
    refusal = {"code": m.refusal_code, "reason": m.refusal, "at": iso(m.refused_at)} \
        if m.state == "refused" else None
    return {"id": m.id, "uri": m.uri, "member_body": m.member_body, "federation": m.federation,
            "matter": m.matter, "version": m.version, "position": m.position,
            "amendments": json.loads(m.amendments), "limits": m.limits,
            "spokespersons": json.loads(m.spokespersons), "families": m.families,
            "expires_at": iso(m.expires_at), "state": m.state, "refusal": refusal,
            "actions": actions or [], "proposal_id": m.proposal_id,
            "created_at": iso(m.created_at)}


def mandated_vote_view(v: MandatedVote) -> dict[str, Any]:
    return {"id": v.id, "uri": v.uri, "member_body": v.member_body, "mandate": v.mandate_uri,
            "spokesperson": v.spokesperson, "version": v.version, "choice": v.choice,
            "state": v.state, "cast_at": iso(v.cast_at)}
