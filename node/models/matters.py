"""Federated matters: the signed objects that travel between levels, the mandates a
member body gives its spokespersons, and the votes cast under them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class SignedObject(SQLModel, table=True):
    """A proposal, mandate, vote or decision as its author signed it (FEP-8b32), kept
    byte-for-byte as JSON so that it can be passed on unchanged and checked later by
    anyone (`comuna verify`)."""

    __tablename__ = "signed_object"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    # Proposal, Mandate, MandatedVote, Decision (our terms), or the wrapping activity
    type: str = Field(max_length=32, index=True)
    # The body that made and signed it.
    author: str = Field(max_length=2048, index=True)
    # The matter (proposal object URI) it belongs to.
    matter: str = Field(default="", max_length=2048, index=True)
    body: str = Field(sa_type=Text)
    received_from: str = Field(default="", max_length=2048)
    created_at: datetime = Field(default_factory=utcnow)


class Mandate(SQLModel, table=True):
    """What a member body tells its spokespersons to vote at a federation, for one
    version of one matter. Kept by the body that issued it and by the federation."""

    __tablename__ = "mandate"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    member_body: str = Field(max_length=2048, index=True)
    federation: str = Field(max_length=2048, index=True)
    matter: str = Field(max_length=2048, index=True)
    version: int
    # approve | reject | abstain | approve_with_amendments | free
    position: str = Field(max_length=32)
    # JSON list of amendment URIs (approve_with_amendments) that the mandate accepts.
    amendments: str = Field(default="[]", sa_type=Text)
    limits: str = Field(default="", sa_type=Text)
    # JSON list of spokesperson URIs.
    spokespersons: str = Field(default="[]", sa_type=Text)
    # Families the member body counts, for federations that weigh votes by families.
    families: int = Field(default=0)
    expires_at: datetime | None = Field(default=None)
    # live -> recalled | lapsed | superseded | refused (the graph: federations.mandates)
    state: str = Field(default="live", max_length=16, index=True)
    # On the issuing side, when the federation refused a vote cast under it: its stable
    # code, its words and when (kept until a later vote replaces the refusal).
    refusal: str = Field(default="", sa_type=Text)
    refusal_code: str = Field(default="", max_length=64)
    refused_at: datetime | None = Field(default=None)
    # On the issuing side: the local proposal whose decision it carries.
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MandatedVote(SQLModel, table=True):
    """A member body's vote at a federation, cast by a spokesperson under a mandate.
    One per member body and matter; a new one replaces it until the vote closes."""

    __tablename__ = "mandated_vote"
    __table_args__ = (UniqueConstraint("proposal_id", "member_body"),)

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    # The federation's proposal row the vote is about.
    proposal_id: int = Field(foreign_key="proposal.id", index=True)
    member_body: str = Field(max_length=2048)
    mandate_uri: str = Field(max_length=2048, index=True)
    spokesperson: str = Field(max_length=2048)
    version: int
    choice: str = Field(max_length=16)
    # At the federation: counted -> withdrawn (its mandate was recalled or lapsed before
    # the close). At the member body, the vote its spokesperson sent: sent -> refused.
    state: str = Field(default="counted", max_length=16)
    cast_at: datetime = Field(default_factory=utcnow)


class FederatedAmendment(SQLModel, table=True):
    """At a member body: an amendment to a federated matter, as the federation deciding
    the matter announced it (proposed, then accepted or not), so that a mandate can
    name it by its URI and people can read what it changes."""

    __tablename__ = "federated_amendment"
    __table_args__ = (UniqueConstraint("body_id", "uri"),)

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    uri: str = Field(max_length=2048)
    matter: str = Field(max_length=2048, index=True)
    federation: str = Field(max_length=2048)
    title: str = Field(default="", max_length=300)
    text: str = Field(default="", sa_type=Text)
    against_version: int = 1
    # As the federation said last: open, voting, accepted, rejected, stale.
    state: str = Field(default="open", max_length=16)
    received_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
