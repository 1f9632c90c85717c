"""Request and response schemas of federation membership in the JSON API (joining,
declaring families, the federation's answers)."""

from __future__ import annotations

from pydantic import Field

from node.api.v1.outputs import Out
from node.api.v1.schemas import ApiModel
from node.federations.membership import MAX_FAMILIES


class AskToJoin(ApiModel):
    federation: str = Field(min_length=3, max_length=2048)
    families: int | None = Field(
        default=None, ge=0, le=MAX_FAMILIES,
        description="families the body counts, for federations that weigh votes by them "
                    "(the federation accepts the number); by default the number of "
                    "families among the body's members here")


class DeclareFamilies(ApiModel):
    families: int = Field(ge=0, le=MAX_FAMILIES)


class MembershipDecision(ApiModel):
    accept: bool = Field(description="on a pending request: admit the body or not; on a "
                                     "member's new declaration of families: take the new "
                                     "number or keep the accepted one")


class MembershipLinkOut(Out):
    id: int
    remote: str
    name: str = Field(description="the remote body's name, as its actor document says it "
                                  "(handle@host when it was never seen)")
    state: str = Field(description="pending, accepted or rejected")
    direction: str = Field(description="member_of (our body belongs to `remote`) or "
                                       "has_member (`remote` belongs to our body)")
    families: int = Field(description="families the federation accepted for the member "
                                      "(0: none declared; it counts once)")
    families_declared: int | None = Field(description="a newer declaration waiting for the "
                                                      "federation's answer; until then "
                                                      "`families` holds")
    actions: list[str] = Field(description="what the caller may do with it now: accept or "
                                           "refuse a waiting request (the federation's "
                                           "coordinators)")


class JoinAsked(Out):
    federation: str
    state: str
    families: int | None
