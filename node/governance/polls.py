"""A public body's open vote as a FEP-9967 poll, so that Mastodon and similar
servers show it as a poll to the body's followers.

The poll is a window on the vote, not a ballot box: only members vote, on the
node. Answers sent back from other servers (a `Note` with `name` and
`inReplyTo` the question) are stored like any unknown activity and never
counted. Counts stay at zero while the vote runs, so no early tally sways it,
and the closing `Update` carries the final ones. Its options (whether `block` is
one) follow the vote's frozen statute, so the closing `Update` never offers other
options than the `Create` did.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from sqlmodel import select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import AS_PUBLIC, Urls
from node.governance.statute import Rule, Statute, statute_of_vote
from node.governance.tally import Counts
from node.models import LocalActor, OutboxItem, Proposal
from node.models.base import aware
from node.outbox.publish import new_uid, publish
from node.tx import Tx

OPTIONS = (("for", "A favor"), ("against", "En contra"), ("abstain", "Abstención"),
           ("block", "Bloqueo"))


def question_id(urls: Urls, proposal: Proposal) -> str:
    # One vote per proposal, so one poll: a stable id lets the closing Update name it.
    return urls.obj(f"vote-{proposal.id}")


def _stamp(when: datetime) -> str:
    return aware(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def question(urls: Urls, body: LocalActor, proposal: Proposal, title: str, statute: Statute,
             counts: Counts | None = None, closed: datetime | None = None) -> dict[str, Any]:
    assert proposal.closes_at is not None and proposal.vote_opened_at is not None
    totals = {"for": 0, "against": 0, "abstain": 0, "block": 0}
    if counts is not None:
        totals = {"for": counts.yes, "against": counts.no, "abstain": counts.abstain,
                  "block": counts.block}
    options = [(key, label) for key, label in OPTIONS
               if key != "block" or statute.rule == Rule.consent]
    page = f"{urls.base}/p/{proposal.id}"
    content = (f"<p><strong>{html.escape(title)}</strong></p>"
               f"<p>Votación de {html.escape(body.name)}, versión {proposal.current_version}. "
               f"Votan sus integrantes <a href=\"{page}\">en la página de la propuesta</a>."
               "</p>")
    doc: dict[str, Any] = {
        "id": question_id(urls, proposal), "type": "Question",
        "attributedTo": urls.actor(body.handle), "name": title, "content": content,
        "contentMap": {"es": content}, "url": page,
        "published": _stamp(proposal.vote_opened_at), "endTime": _stamp(proposal.closes_at),
        "proposalVersion": proposal.current_version,
        "oneOf": [{"type": "Note", "name": label,
                   "replies": {"type": "Collection", "totalItems": totals[key]}}
                  for key, label in options],
        "votersCount": counts.participants if counts is not None else 0,
        "to": [AS_PUBLIC], "cc": [urls.followers(body.handle)],
    }
    if closed is not None:
        doc["closed"] = _stamp(closed)
    return doc


def _send(tx: Tx, body: LocalActor, kind: str, obj: dict[str, Any]) -> str:
    urls = tx.urls
    activity: dict[str, Any] = {
        "@context": [AS_CONTEXT, f"{urls.base}/ns/comuna/v1"],
        "id": urls.activity(new_uid()), "type": kind, "actor": urls.actor(body.handle),
        "object": obj, "to": obj["to"], "cc": obj["cc"]}
    if kind == "Update":
        activity["published"] = _stamp(tx.now())
    publish(tx, body, activity)
    return str(activity["id"])


def announce(tx: Tx, body: LocalActor, proposal: Proposal, title: str) -> None:
    """The vote opened: followers see a poll with its closing time."""
    if not body.public:
        return
    _send(tx, body, "Create",
          question(tx.urls, body, proposal, title, statute_of_vote(proposal, body)))


def close(tx: Tx, body: LocalActor, proposal: Proposal, title: str, counts: Counts) -> None:
    """The vote closed (online or in assembly): the poll shows the final counts."""
    if not body.public or proposal.vote_opened_at is None or proposal.closes_at is None:
        return
    qid = question_id(tx.urls, proposal)
    if tx.session.exec(select(OutboxItem.id).where(OutboxItem.object_id == qid)).first() is None:
        return  # no poll was announced (the body was private then): nothing to update
    _send(tx, body, "Update",
          question(tx.urls, body, proposal, title, statute_of_vote(proposal, body), counts,
                   closed=tx.now()))
