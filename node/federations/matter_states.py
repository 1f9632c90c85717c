"""A matter's escalation: how far our own proposal has gone on its way up.

none (""): still ours alone; pending: it should go up but the federation graph could
not be read, and node/federations/retries.py tries again; sent: a federation has it; refused: the
federation sent it back down with a reason (ours to decide, or to send again); taken:
our own signed proposal came back from the federation, so our row is now our
position on the federated matter.

A proposal received from a federation is created in its state (not a move)."""

from __future__ import annotations

from enum import StrEnum

from node.lifecycle import Graph
from node.models import Proposal


class Escalation(StrEnum):
    none = ""
    pending = "pending"
    sent = "sent"
    refused = "refused"
    taken = "taken"


E = Escalation

ESCALATION = (
    # `updated_at` is set by the callers that always set it (send, refuse), so the
    # other moves keep leaving it as it was.
    Graph("escalation", Proposal, Escalation, column="escalation", touch=False)
    .step("send", [E.none, E.pending, E.refused], E.sent)
    # A repeated refusal only updates the reason; only the federation the matter was
    # sent to may refuse it, which the caller checks (escalated_to).
    .step("refuse", [E.sent, E.refused, E.taken], E.refused)
    .step("take", [E.none, E.pending, E.sent, E.refused], E.taken)
    # A self-loop: each failed try keeps the newest reason.
    .step("wait", [E.none, E.pending], E.pending)
    .step("clear", [E.pending], E.none)
)
