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
    state: str = Field(description="live, recalled, lapsed or superseded")
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
    state: str = Field(description="counted or withdrawn")
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


def mandate_view(m: Mandate) -> dict[str, Any]:
    return {"id": m.id, "uri": m.uri, "member_body": m.member_body, "federation": m.federation,
            "matter": m.matter, "version": m.version, "position": m.position,
            "amendments": json.loads(m.amendments), "limits": m.limits,
            "spokespersons": json.loads(m.spokespersons), "families": m.families,
            "expires_at": iso(m.expires_at), "state": m.state, "proposal_id": m.proposal_id,
            "created_at": iso(m.created_at)}


def mandated_vote_view(v: MandatedVote) -> dict[str, Any]:
    return {"id": v.id, "uri": v.uri, "member_body": v.member_body, "mandate": v.mandate_uri,
            "spokesperson": v.spokesperson, "version": v.version, "choice": v.choice,
            "state": v.state, "cast_at": iso(v.cast_at)}
