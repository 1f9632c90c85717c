"""Publishing: store the activity in the outbox and queue one delivery per inbox.

Both happen in the caller's transaction, so an activity is never stored without
its deliveries, nor delivered without being stored.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import insert
from sqlmodel import Session, select

from node.activitypub import keys
from node.activitypub.directory import netloc_of
from node.activitypub.documents import AS_CONTEXT, DATA_INTEGRITY_V1
from node.activitypub.proofs import sign_object
from node.activitypub.text import as_html
from node.activitypub.urls import AS_PUBLIC, Urls
from node.errors import invalid
from node.models import Delivery, Follower, LocalActor, OutboxItem
from node.tx import Tx


def new_uid() -> str:
    return uuid.uuid4().hex


def follower_inboxes(session: Session, actor: LocalActor) -> set[str]:
    """One inbox per server where it offers a shared inbox, else each follower's own."""
    rows = session.execute(select(Follower.shared_inbox, Follower.inbox)
                           .where(Follower.actor_id == actor.id)).all()
    return {shared or own for shared, own in rows}


def queue_deliveries(tx: Tx, item: OutboxItem, inboxes: set[str]) -> None:
    """One queued delivery per inbox not on this node, in the caller's transaction.
    One Core INSERT over all the rows (an executemany), not thousands of ORM objects:
    it is what `comuna post` waits for."""
    local, now = netloc_of(tx.urls.base), tx.now()
    rows = [{"outbox_id": item.id or 0, "inbox": inbox, "host": host, "state": "queued",
             "attempts": 0, "next_attempt_at": now, "last_error": "", "created_at": now,
             "updated_at": now}
            for inbox in sorted(inboxes) if (host := netloc_of(inbox)) != local]
    if rows:
        tx.session.execute(insert(Delivery.__table__), rows)  # type: ignore[attr-defined]
        tx.wake("delivery")


def with_proof(urls: Urls, actor: LocalActor, activity: dict[str, Any]) -> dict[str, Any]:
    """Sign the activity as its body (FEP-8b32, eddsa-jcs-2022), so that it can be
    verified wherever it travels, not only on the hop that delivered it."""
    context = activity.get("@context", AS_CONTEXT)
    contexts = context if isinstance(context, list) else [context]
    if DATA_INTEGRITY_V1 not in contexts:
        contexts = [*contexts, DATA_INTEGRITY_V1]
    key = keys.load_private_pem(actor.ed25519_private_pem)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return sign_object({**activity, "@context": contexts}, key, urls.ed25519_key(actor.handle))


def publish(
    tx: Tx,
    actor: LocalActor,
    activity: dict[str, Any],
    to_followers: bool = True,
    inboxes: set[str] | None = None,
) -> OutboxItem:
    """Store `activity`, signed as `actor` (the body it speaks for, whoever acts), and
    queue its deliveries: to `inboxes`, and to the body's followers unless told not."""
    activity = with_proof(tx.urls, actor, activity)
    targets = set(inboxes or ())
    if to_followers:
        targets |= follower_inboxes(tx.session, actor)
    obj = activity.get("object")
    item = OutboxItem(
        actor_id=actor.id or 0,
        activity_id=activity["id"],
        activity_type=activity["type"],
        object_id=obj.get("id", "") if isinstance(obj, dict) else str(obj or ""),
        public=AS_PUBLIC in audience(activity),
        body=json.dumps(activity),
    )
    tx.session.add(item)
    tx.session.flush()
    queue_deliveries(tx, item, targets)
    return item


def forward(tx: Tx, actor: LocalActor, activity: dict[str, Any],
            inboxes: set[str]) -> OutboxItem | None:
    """Pass on another body's activity exactly as it was signed (its FEP-8b32 proof
    must keep verifying); only the HTTP signature of each delivery is ours. Not
    served as ours and sent once: a second forward of the same activity is a no-op."""
    if tx.session.exec(select(OutboxItem.id).where(
            OutboxItem.activity_id == activity["id"])).first() is not None:
        return None
    obj = activity.get("object")
    item = OutboxItem(actor_id=actor.id or 0, activity_id=activity["id"],
                      activity_type=activity.get("type", ""),
                      object_id=obj.get("id", "") if isinstance(obj, dict) else str(obj or ""),
                      public=False, body=json.dumps(activity))
    tx.session.add(item)
    tx.session.flush()
    queue_deliveries(tx, item, inboxes)
    return item


def audience(activity: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("to", "cc"):
        value = activity.get(key)
        out.extend(value if isinstance(value, list) else [value] if value else [])
    return out


def note_activity(tx: Tx, actor: LocalActor, text: str) -> dict[str, Any]:
    """A public notice: Create(Note) to the public and the body's followers."""
    urls = tx.urls
    uri = urls.actor(actor.handle)
    published = tx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    content = as_html(text)
    audience = {"to": [AS_PUBLIC], "cc": [urls.followers(actor.handle)]}
    note_id = urls.obj(new_uid())
    note = {
        "id": note_id,
        # Where a person opens it: the same address, which answers a browser with a page.
        "url": note_id,
        "type": "Note",
        "attributedTo": uri,
        "content": content,
        "contentMap": {"es": content},
        "published": published,
        **audience,
    }
    return {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_uid()),
        "type": "Create",
        "actor": uri,
        "published": published,
        "object": note,
        **audience,
    }


def post_note(tx: Tx, actor: LocalActor, text: str) -> OutboxItem:
    if not text.strip():
        # It would go out to every follower as an empty post.
        raise invalid("empty-notice", "a public notice needs some text", field="text")
    return publish(tx, actor, note_activity(tx, actor, text))
