"""Database tables. Import this package to register every table on SQLModel.metadata."""

from node.models.actors import LocalActor, RemoteActor
from node.models.delivery import Delivery, PeerHost
from node.models.follows import Follower, Following
from node.models.inbox import InboxItem
from node.models.outbox import OutboxItem

__all__ = [
    "Delivery",
    "Follower",
    "Following",
    "InboxItem",
    "LocalActor",
    "OutboxItem",
    "PeerHost",
    "RemoteActor",
]
