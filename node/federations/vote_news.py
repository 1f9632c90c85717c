"""A federation's vote on a matter decided by its member bodies, heard by them when it
opens: their spokespersons may cast the body's vote only then (the federation refuses
one sent earlier), so a member offers the vote, and lists it as pending, only while the
federation says it is open. Sent to the member bodies only (the public poll of a public
body is another object, `polls.py`)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from node.federations import matters
from node.models import LocalActor, Proposal
from node.models.base import aware
from node.outbox.publish import new_uid
from node.tx import Tx

log = logging.getLogger("comuna.federations")

QUESTION = "Question"


def announce_open(tx: Tx, federation: LocalActor, proposal: Proposal) -> None:
    """Tell the member bodies that the vote on the matter is open, and until when."""
    if not proposal.matter or proposal.closes_at is None:
        return
    urls = tx.urls
    matters.tell_members(tx, federation, {
        "id": urls.obj(f"vote-open-{new_uid()}"), "type": QUESTION,
        "attributedTo": urls.actor(federation.handle), "matter": proposal.matter,
        "proposalVersion": proposal.current_version, "startTime": matters.now_stamp(tx.now()),
        "endTime": aware(proposal.closes_at).strftime("%Y-%m-%dT%H:%M:%SZ")})


def receive_open(tx: Tx, body: LocalActor, federation: str, doc: dict[str, Any]) -> int:
    """Mark `body`'s rows of the matter that answer to `federation` as having its vote
    open until `endTime`. Returns how many rows were marked."""
    matter = str(doc.get("matter") or "")
    try:
        closes = aware(datetime.fromisoformat(str(doc.get("endTime") or "")
                                              .replace("Z", "+00:00")))
    except ValueError:
        log.warning("vote opening from %s: no endTime", federation)
        return 0
    rows = matters.rows_from(tx.session, body.id or 0, matter, federation)
    for p in rows:
        p.federation_vote_closes_at = closes
        tx.session.add(p)
    return len(rows)


def is_open(proposal: Proposal, now: datetime) -> bool:
    """Whether the deciding federation's vote on the matter is open now, as this member
    heard (closed once its decision came down)."""
    closes = proposal.federation_vote_closes_at
    return closes is not None and not proposal.final_outcome and aware(closes) > now
