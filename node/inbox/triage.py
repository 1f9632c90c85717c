"""What an arriving activity still needs once it is stored.

Most of a flood is activities nothing here acts on and anyone may send: a Note from a
stranger, a Like, a reply to the commune's public record. Processing one could only
say whether a body receives it, which the bodies held in memory tell. So the endpoint
stores such an activity already handled (`done`) and the processor never claims,
rewrites or parses it; under a flood of them the store keeps the write lock and both
cores (issue 11). Anything else, or a recipient this process does not hold, is stored
`queued` and takes the full check (`node.inbox.authority`) in the processor.
"""

from __future__ import annotations

from typing import Any

from node.context import NodeContext
from node.inbox.kinds import RULES, Kind, Relation
from node.inbox.ownership import id_of, ownership_problem

# The kinds no handler acts on. The processor's handler table says the same (it maps
# each of these to None); tests/test_inbox_triage.py holds the two together.
UNHANDLED = frozenset({Kind.other})


def settled_on_arrival(ctx: NodeContext, kind: Kind, activity: dict[str, Any],
                       recipient: str, sender: str) -> bool:
    """Whether nothing is left to do for `activity`, sent by `sender` (the owner of the
    key that signed it) to `recipient` ('' for the shared inbox): the verdict the full
    check would give is "allowed, nothing to act on"."""
    rule = RULES[kind]
    if kind not in UNHANDLED or rule.relation is not Relation.anyone or rule.answer_refusal:
        return False
    if not rule.relayed and id_of(activity.get("actor")) != sender:
        return False
    if ownership_problem(kind, activity, sender):
        return False
    # Bodies are never deleted. A body just created by another process is not in this
    # one's copy yet: its activities take the full path (which refuses an unknown one).
    held = ctx.actors.held()
    return recipient in held if recipient else len(held) > 0
