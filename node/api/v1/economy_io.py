"""Request and response schemas of the economy's part of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from node.api.v1.outputs import Out
from node.api.v1.schemas import ApiModel


class NewEnterprise(ApiModel):
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1, max_length=200)
    sector: str = Field(default="", max_length=100)
    description: str = Field(default="", max_length=5000)
    owners: list[str] = Field(default_factory=list, max_length=20,
                              description="further bodies (actor URLs) that own it too")


class NewKind(ApiModel):
    slug: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    label_es: str = Field(min_length=1, max_length=200)
    label_en: str = Field(default="", max_length=200)
    unit: str = Field(min_length=1, max_length=32, description="its base unit (OM-2 name)")
    extra: dict[str, str] = Field(default_factory=dict, max_length=10,
                                  description="units of this kind only, as an amount of "
                                              "`unit` (a sack = 42.5)")


class NewWorker(ApiModel):
    username: str = Field(min_length=2, max_length=64)
    council: bool = False


class NewIntent(ApiModel):
    side: Literal["offer", "need"]
    kind: str = Field(min_length=1, max_length=2048,
                      description="a resource kind URL from /api/v1/resource-kinds")
    quantity: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+(\.[0-9]{1,3})?$",
                          description="a decimal with at most three decimals")
    unit: str = Field(min_length=1, max_length=32)
    enterprise: str | None = Field(default=None, max_length=64,
                                   description="the enterprise that gives or receives; "
                                               "the body itself if omitted")
    summary: str = Field(default="", max_length=5000)
    location: str = Field(default="", max_length=500)
    in_return: str | None = Field(default=None, max_length=2048,
                                  description="for an offer, a kind the body would like in "
                                              "return (FEP-0837 `reciprocal`); for a need, "
                                              "one it could give")
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    rise_after: int = Field(default=86400, ge=0, le=365 * 86400,
                            description="seconds to wait at each level before rising one "
                                        "level further; 0 rises at once")


class Answer(ApiModel):
    accept: bool
    reason: str = Field(default="", max_length=1000)


class NewDelivery(ApiModel):
    quantity: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+(\.[0-9]{1,3})?$")
    happened_at: datetime | None = None
    note: str = Field(default="", max_length=2000)


class Confirmation(ApiModel):
    accept: bool = Field(description="true confirms the delivery, false disputes it")


class Cancellation(ApiModel):
    reason: str = Field(default="", max_length=1000)


class KindOut(Out):
    uri: str
    slug: str
    label: str
    unit: str
    units: list[str]


class EnterpriseOut(Out):
    id: int
    uri: str
    slug: str
    name: str
    sector: str
    description: str
    owners: list[str]
    workers: list[dict[str, str | bool]]


class IntentOut(Out):
    id: int
    uri: str
    side: str
    body: str
    agent: str
    kind: str
    kind_label: str
    unit: str
    quantity: str
    available: str
    summary: str
    location: str
    in_return: str | None
    starts_at: str | None
    ends_at: str | None
    rise_after: int
    risen_to: list[str]
    state: str = Field(description="open, matched or withdrawn")
    received_from: str
    actions: list[str] = Field(description="what the asking member may do to it "
                                           "now: withdraw")


class CommitmentOut(Out):
    id: int
    uri: str
    provider: str
    receiver: str
    provider_agent: str
    receiver_agent: str
    offer: str
    need: str
    kind: str
    unit: str
    quantity: str
    delivered: str
    state: str = Field(description="proposed, agreed, partial, fulfilled or cancelled")
    actions: list[str] = Field(description="what the asking member may do to it "
                                           "now: deliver, cancel")


class ExchangeOut(Out):
    id: int
    uri: str
    mode: str = Field(description="allocation (inside one body) or barter (a cycle)")
    proposer: str
    parties: list[str]
    answers: dict[str, str]
    state: str = Field(description="proposed, agreed or refused")
    agreement: str
    commitments: list[CommitmentOut]
    actions: list[str] = Field(description="what the asking member may do to it "
                                           "now: accept, refuse")


class EventOut(Out):
    id: int
    uri: str
    commitment: str
    provider: str
    receiver: str
    kind: str
    unit: str
    quantity: str
    happened_at: str | None
    state: str = Field(description="recorded, confirmed or disputed")
    note: str
    actions: list[str] = Field(description="what the asking member may do to it "
                                           "now: confirm, dispute")


class Amount(Out):
    kind: str
    unit: str
    quantity: str


class LedgerLine(Out):
    partner: str
    gave: list[Amount]
    received: list[Amount]


class Flow(Out):
    from_: str = Field(alias="from")
    to: str
    resources: list[Amount]


class NewProject(ApiModel):
    title: str = Field(min_length=1, max_length=300)
    sector: str = Field(default="", max_length=100)
    problem: str = Field(default="", max_length=20000)
    actions: str = Field(default="", max_length=20000, description="what was done, and how")
    resources: str = Field(default="", max_length=20000, description="resources used")
    outcome: str = Field(default="", max_length=20000)
    lessons: str = Field(default="", max_length=20000)
    evaluation: str = Field(default="", max_length=20000)


class Adoption(ApiModel):
    note: str = Field(default="", max_length=5000,
                      description="how the adopting body will carry it out")


class ProjectOut(Out):
    id: int
    uri: str
    author: str
    title: str
    sector: str
    problem: str
    actions: str
    resources: str
    outcome: str
    lessons: str
    evaluation: str
    adopted_from: str = Field(description="the record this one adopts, if any")
    adoptions: int = Field(description="bodies that adopted it, as far as this node knows")
    published_at: str


class PlanCommitmentIn(ApiModel):
    action: str = Field(description="inputs: work, use, consume, cite, pickup, accept; "
                                    "outputs: produce, deliverService, dropoff, modify")
    provider: str | None = Field(default=None, max_length=2048,
                                 description="the body that gives (actor URL); this body "
                                             "if omitted")
    receiver: str | None = Field(default=None, max_length=2048)
    kind: str = Field(min_length=1, max_length=2048)
    quantity: str = Field(min_length=1, max_length=32, pattern=r"^[0-9]+(\.[0-9]{1,3})?$")
    unit: str = Field(min_length=1, max_length=32)
    note: str = Field(default="", max_length=2000)


class ProcessIn(ApiModel):
    name: str = Field(min_length=1, max_length=300)
    content: str = Field(default="", max_length=5000)
    inputs: list[PlanCommitmentIn] = Field(default_factory=list, max_length=50)
    outputs: list[PlanCommitmentIn] = Field(default_factory=list, max_length=50)


class NewPlan(ApiModel):
    title: str = Field(min_length=1, max_length=300)
    content: str = Field(default="", max_length=20000)
    processes: list[ProcessIn] = Field(min_length=1, max_length=20)


class PlanCommitmentOut(Out):
    uri: str
    provider: str
    receiver: str
    action: str
    kind: str
    unit: str
    quantity: str
    note: str
    id: int | None = Field(description="this node's commitment, once the plan is approved "
                                       "(deliveries are recorded against it)")
    state: str | None
    delivered: str | None
    actions: list[str] = Field(description="what the asking member may do to it "
                                           "now (once recorded): deliver, cancel")


class PlanOut(Out):
    id: int
    uri: str
    initiator: str
    title: str
    state: str = Field(description="proposed, approved or refused")
    proposal_id: int | None = Field(description="the proposal through which this body "
                                                "decides the plan")
    answered: str = Field(description="this body's answer once decided: accept or refuse")
    answers: dict[str, str] = Field(description="at the initiator: 'commitment body' -> "
                                                "answer")
    participants: list[str]
    commitments: list[PlanCommitmentOut]
    actions: list[str] = Field(description="what the asking member may do to it now: none, "
                                           "each body decides a plan through a proposal")
