"""A federation link's life, on either side (the body's `member_of` link, the
federation's `has_member` link).

pending: a Join was sent (or received) and waits for its answer; accepted: the body
is a member; rejected: the federation refused it (it may ask again). A member asking
again only declares a new number of families: it stays accepted, and the answer is
about that number only. A new link is created pending (not a move); `Leave` deletes
the federation's link."""

from __future__ import annotations

from enum import StrEnum

from node.lifecycle import Graph
from node.models import FederationLink


class LinkState(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


L = LinkState

LINK = (
    Graph("federation link", FederationLink, LinkState)
    .step("ask", [L.pending, L.rejected], L.pending)
    # A self-loop from accepted: the answer to a member's new number of families. An
    # Accept after a Reject is taken as the federation's newer word.
    .step("accept", [L.pending, L.accepted, L.rejected], L.accepted)
    .step("reject", [L.pending, L.rejected], L.rejected)
)
