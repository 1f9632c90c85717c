"""Telling a sender that the node's authority refused what it sent.

A `Reject` of the activity with the stable code as `summary` (the same convention
mandate refusals use) and the reason as `content`. Nothing else is recorded: a
refusal changes no body's agenda, goods or records; the inbox row keeps the verdict.
"""

from __future__ import annotations

from typing import Any

from node.activitypub.documents import AS_CONTEXT
from node.models import LocalActor
from node.outbox.publish import new_uid, publish
from node.tx import Tx


def answer(tx: Tx, body: LocalActor, activity: dict[str, Any], inbox: str, code: str,
           reason: str) -> None:
    urls = tx.urls
    actor = activity.get("actor")
    reject: dict[str, Any] = {
        "@context": [AS_CONTEXT, urls.context], "id": urls.activity(new_uid()),
        "type": "Reject", "actor": urls.actor(body.handle), "object": activity.get("id"),
        "summary": code, "content": reason,
        "to": [actor.get("id") if isinstance(actor, dict) else actor]}
    publish(tx, body, reject, to_followers=False, inboxes={inbox})
