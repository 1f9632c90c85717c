"""The communal economy: enterprises, offers and needs (ValueFlows intents), the
exchanges a node proposes, their commitments, and the deliveries that fulfil them.

Quantities are kept as decimal text (at most three decimals), exact on every
database; the matcher converts them to integers (node/economy/catalogue.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.models.base import utcnow


class Enterprise(SQLModel, table=True):
    """A socially owned enterprise of a body; `owners` lists any further bodies that
    own it with that body (their actor URIs, JSON)."""

    __tablename__ = "enterprise"
    __table_args__ = (UniqueConstraint("body_id", "slug"),)

    id: int | None = Field(default=None, primary_key=True)
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    slug: str = Field(max_length=64)
    name: str = Field(max_length=200)
    sector: str = Field(default="", max_length=100)
    description: str = Field(default="", sa_type=Text)
    owners: str = Field(default="[]", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)


class EnterpriseWorker(SQLModel, table=True):
    """A member who works in an enterprise; council members answer for it."""

    __tablename__ = "enterprise_worker"
    __table_args__ = (UniqueConstraint("enterprise_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: int = Field(foreign_key="enterprise.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    council: bool = Field(default=False)


class ResourceKind(SQLModel, table=True):
    """A kind of resource this node added to the shared catalogue."""

    __tablename__ = "resource_kind"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    slug: str = Field(max_length=64, unique=True)
    label_es: str = Field(max_length=200)
    label_en: str = Field(default="", max_length=200)
    unit: str = Field(max_length=32)
    # JSON object: units of this kind only, as a number of `unit`.
    extra: str = Field(default="{}", sa_type=Text)


# Built before the class so the mapper can name it as the version column.
_ROW_VERSION = Column("row_version", Integer, nullable=False, server_default="1")


class Intent(SQLModel, table=True):
    """An offer or a need. The body that made it keeps the authoritative row
    (`holder_id` is that body); every federation it rose to keeps a copy it may match
    (`holder_id` is the federation), built from the signed object."""

    __tablename__ = "intent"
    __table_args__ = (UniqueConstraint("uri", "holder_id"),)

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, index=True)
    holder_id: int = Field(foreign_key="local_actor.id", index=True)
    # offer | need
    side: str = Field(max_length=8)
    # The body that may commit to it (actor URI), and who gives or receives in it (the
    # body itself or one of its enterprises).
    body: str = Field(max_length=2048, index=True)
    agent: str = Field(max_length=2048)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id")
    kind: str = Field(max_length=2048, index=True)
    unit: str = Field(max_length=32)
    quantity: str = Field(max_length=32)
    # What is still free: neither committed nor held by a proposed exchange.
    available: str = Field(max_length=32)
    summary: str = Field(default="", sa_type=Text)
    location: str = Field(default="", max_length=500)
    # A kind wanted in return for an offer (or that could be given for a need): shown to
    # the bodies, sent as FEP-0837 `reciprocal`; matching does not require it.
    in_return: str = Field(default="", max_length=2048)
    starts_at: datetime | None = Field(default=None)
    ends_at: datetime | None = Field(default=None)
    # Seconds to wait, at each level, before rising one level further (0: at once).
    rise_after: int = Field(default=0)
    # When it rises next from this holder; None once it has risen or may not.
    rise_at: datetime | None = Field(default=None, index=True)
    # JSON list of the federations this holder sent it to.
    risen_to: str = Field(default="[]", sa_type=Text)
    # open -> matched (nothing left) | withdrawn
    state: str = Field(default="open", max_length=16, index=True)
    received_from: str = Field(default="", max_length=2048)
    # Where the body that made it can be reached (for a copy held by a federation).
    body_inbox: str = Field(default="", max_length=2048)
    # Optimistic concurrency: an update made from a stale read of `available` fails
    # (StaleDataError → 409) instead of holding the same quantity twice.
    row_version: int = Field(default=1, sa_column=_ROW_VERSION)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)

    __mapper_args__ = {"version_id_col": _ROW_VERSION}


class Exchange(SQLModel, table=True):
    """A match proposed by the node that found it (a body inside itself, or a
    federation between its members), with each party's answer."""

    __tablename__ = "exchange"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    # The local body that proposed it, or None on a party's node.
    proposer_id: int | None = Field(default=None, foreign_key="local_actor.id", index=True)
    proposer: str = Field(max_length=2048)
    # allocation (inside one body) | barter (a cycle between bodies)
    mode: str = Field(max_length=16)
    # JSON list of the bodies that must accept, and JSON object body -> accept|refuse.
    parties: str = Field(default="[]", sa_type=Text)
    answers: str = Field(default="{}", sa_type=Text)
    # proposed -> agreed | refused | expired
    state: str = Field(default="proposed", max_length=16, index=True)
    # JSON object: actor URI -> inbox, for everyone this node must write to about it.
    inboxes: str = Field(default="{}", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Commitment(SQLModel, table=True):
    """One gift in an exchange: who gives what to whom, satisfying which offer and
    need. Recorded on every node involved once the exchange is agreed."""

    __tablename__ = "commitment"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    exchange: str = Field(max_length=2048, index=True)
    provider: str = Field(max_length=2048, index=True)
    receiver: str = Field(max_length=2048, index=True)
    provider_agent: str = Field(max_length=2048)
    receiver_agent: str = Field(max_length=2048)
    offer: str = Field(max_length=2048)
    need: str = Field(max_length=2048)
    kind: str = Field(max_length=2048)
    unit: str = Field(max_length=32)
    quantity: str = Field(max_length=32)
    delivered: str = Field(default="0", max_length=32)
    starts_at: datetime | None = Field(default=None)
    ends_at: datetime | None = Field(default=None)
    # proposed -> agreed -> partial -> fulfilled; or cancelled (the rest not delivered)
    state: str = Field(default="proposed", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class EconomicEvent(SQLModel, table=True):
    """A delivery: recorded by the giver, confirmed (or disputed) by the receiver."""

    __tablename__ = "economic_event"

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, unique=True)
    commitment: str = Field(max_length=2048, index=True)
    provider: str = Field(max_length=2048, index=True)
    receiver: str = Field(max_length=2048, index=True)
    kind: str = Field(max_length=2048)
    unit: str = Field(max_length=32)
    quantity: str = Field(max_length=32)
    happened_at: datetime = Field(default_factory=utcnow, index=True)
    note: str = Field(default="", sa_type=Text)
    # recorded -> confirmed | disputed
    state: str = Field(default="recorded", max_length=16, index=True)
    confirmed_at: datetime | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)


class JointPlan(SQLModel, table=True):
    """A joint project of federated enterprises (FEP-3264 `Plan`): processes with
    commitments from several bodies, approved by each participating body through its
    own decision (a proposal it decides like any other)."""

    __tablename__ = "joint_plan"
    __table_args__ = (UniqueConstraint("uri", "body_id"),)

    id: int | None = Field(default=None, primary_key=True)
    uri: str = Field(max_length=2048, index=True)
    # The local body this row is for: the initiator, or a participant.
    body_id: int = Field(foreign_key="local_actor.id", index=True)
    initiator: str = Field(max_length=2048)
    initiator_inbox: str = Field(default="", max_length=2048)
    title: str = Field(max_length=300)
    # The signed Plan as its initiator made it.
    doc: str = Field(sa_type=Text)
    # JSON: participant actor URI -> inbox (kept by the initiator).
    participants: str = Field(default="{}", sa_type=Text)
    # JSON: participant actor URI -> accept | refuse (kept by the initiator).
    answers: str = Field(default="{}", sa_type=Text)
    # The proposal through which this body decides it, and whether it answered.
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    answered: str = Field(default="", max_length=16)
    # proposed -> approved | refused
    state: str = Field(default="proposed", max_length=16, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
