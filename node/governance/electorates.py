"""Who decides a proposal: a body's own members, counted here, or its member bodies,
each through a mandate, which is the federations' business.

Governance does not know how member bodies vote. The federations package registers
that strategy when it is imported (node/federations/__init__.py); governance asks
for it only for a proposal whose electorate is "bodies", which exists only where
federations code made it or received it. Processes that close votes import the
federations package first (node/background.py), so the strategy is there."""

from __future__ import annotations

from typing import Protocol

from node.models import Amendment, Decision, LocalActor, Proposal
from node.tx import Tx


class MemberBodies(Protocol):
    def close(self, tx: Tx, proposal: Proposal) -> Decision:
        """Close a vote by mandates (the caller moved it out of `vote`)."""
        ...

    def on_new_version(self, tx: Tx, body: LocalActor, proposal: Proposal,
                       amendment: Amendment) -> None:
        """An amendment adopted: mandates carry over or lapse, the text goes down."""
        ...

    def on_vote_opened(self, tx: Tx, body: LocalActor, proposal: Proposal) -> None:
        """The vote opened: the member bodies hear of it (their spokespersons vote)."""
        ...

    def on_amendment(self, tx: Tx, body: LocalActor, proposal: Proposal,
                     amendment: Amendment) -> None:
        """An amendment proposed, or its state changed: the member bodies hear of it."""
        ...


_member_bodies: MemberBodies | None = None


def register_member_bodies(strategy: MemberBodies) -> None:
    global _member_bodies
    _member_bodies = strategy


def member_bodies() -> MemberBodies:
    if _member_bodies is None:
        raise RuntimeError("a proposal decided by member bodies needs the federations "
                           "package: import node.federations before closing its vote")
    return _member_bodies
