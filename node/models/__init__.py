"""Database tables. Import this package to register every table on SQLModel.metadata."""

from node.models.actors import LocalActor, RemoteActor
from node.models.assemblies import Assembly
from node.models.audit import AuditEntry
from node.models.changes import NodeChange
from node.models.delivery import Delivery, PeerHost
from node.models.economy import (
    Commitment,
    EconomicEvent,
    Enterprise,
    EnterpriseWorker,
    Exchange,
    Intent,
    JointPlan,
    ResourceKind,
)
from node.models.events import Event, EventPerson
from node.models.federations import FederationLink
from node.models.follows import Follower, Following
from node.models.inbox import InboxItem
from node.models.matters import FederatedAmendment, Mandate, MandatedVote, SignedObject
from node.models.members import ApiToken, Invitation, Member, Membership
from node.models.notices import WebNotice
from node.models.outbox import OutboxItem
from node.models.projects import ProjectRecord
from node.models.proposals import (
    Amendment,
    AmendmentVote,
    Comment,
    Decision,
    Evaluation,
    Meeting,
    Proposal,
    ProposalVersion,
    Vote,
)

__all__ = [
    "Amendment",
    "AmendmentVote",
    "ApiToken",
    "Assembly",
    "AuditEntry",
    "Comment",
    "Commitment",
    "Decision",
    "Delivery",
    "EconomicEvent",
    "Enterprise",
    "EnterpriseWorker",
    "Evaluation",
    "Event",
    "EventPerson",
    "Exchange",
    "FederatedAmendment",
    "FederationLink",
    "Follower",
    "Following",
    "InboxItem",
    "Intent",
    "Invitation",
    "JointPlan",
    "LocalActor",
    "Mandate",
    "MandatedVote",
    "Meeting",
    "Member",
    "Membership",
    "NodeChange",
    "OutboxItem",
    "PeerHost",
    "ProjectRecord",
    "Proposal",
    "ProposalVersion",
    "RemoteActor",
    "ResourceKind",
    "SignedObject",
    "Vote",
    "WebNotice",
]
