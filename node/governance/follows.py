"""Following, both ways: Follow → Accept (automatic for a body's public record),
Undo Follow, and the Accept/Reject answers to our own Follows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, bindparam, exists, literal, or_
from sqlmodel import col, select

from node.activitypub.documents import AS_CONTEXT
from node.models import Follower, Following, LocalActor
from node.outbox.publish import new_uid, publish
from node.tx import Tx


def _id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id", ""))
    return str(value or "")


def accept_follow(
    tx: Tx, actor: LocalActor, follow: dict[str, Any], follower_doc: dict[str, Any],
) -> None:
    session, urls = tx.session, tx.urls
    follower_uri = _id(follow.get("actor"))
    endpoints = follower_doc.get("endpoints") or {}
    inbox = str(follower_doc.get("inbox") or "")
    if not actor.public:
        # A private body has no public record to follow: told so, and nothing kept.
        publish(tx, actor, {"@context": AS_CONTEXT, "id": urls.activity(new_uid()),
                            "type": "Reject", "actor": urls.actor(actor.handle),
                            "object": follow, "to": [follower_uri]},
                to_followers=False, inboxes={inbox})
        tx.audit("follow.refused", f"body:{actor.handle}",
                 {"follower": follower_uri, "why": "private body"})
        return
    shared = str(endpoints.get("sharedInbox") or "") if isinstance(endpoints, dict) else ""
    row = session.exec(
        select(Follower).where(Follower.actor_id == actor.id,
                               Follower.follower_uri == follower_uri)
    ).first()
    if row is None:
        row = Follower(actor_id=actor.id or 0, follower_uri=follower_uri, inbox=inbox)
    row.inbox = inbox
    row.shared_inbox = shared
    row.follow_activity_id = _id(follow)
    session.add(row)
    accept = {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_uid()),
        "type": "Accept",
        "actor": urls.actor(actor.handle),
        "object": follow,
        "to": [follower_uri],
    }
    publish(tx, actor, accept, to_followers=False, inboxes={inbox})


def undo_follow(tx: Tx, actor: LocalActor, follower_uri: str, follow_id: str) -> int:
    session = tx.session
    rows = session.exec(
        select(Follower).where(Follower.actor_id == actor.id,
                               Follower.follower_uri == follower_uri)
    ).all()
    removed = 0
    for row in rows:
        # An Undo names the Follow it undoes; an old Follow id must not remove a newer one.
        if not follow_id or not row.follow_activity_id or row.follow_activity_id == follow_id:
            session.delete(row)
            removed += 1
    return removed


# Asked for every account's Delete of itself that arrives: built once (issue 11).
_KNOWN = select(literal(True)).where(or_(
    exists().where(col(Follower.follower_uri) == bindparam("uri")),
    exists().where(col(Following.target_uri) == bindparam("uri"))))


def knows_account(engine: Engine, uri: str) -> bool:
    """Whether a remote account follows a body here or is followed by one: what
    `forget_account` would end. Servers announce an account's deletion to every inbox
    they know, so most arrive for accounts that never followed anything here; this one
    read spares them a transaction (issue 11: a flood of them drained at ~580 a second)."""
    with engine.connect() as conn:
        return conn.execute(_KNOWN, {"uri": uri}).first() is not None


def forget_account(tx: Tx, uri: str) -> int:
    """A remote account deleted itself: it stops following every body of this node, and
    our bodies stop following it. Returns how many follows ended (recorded if any)."""
    session = tx.session
    ended = list(session.exec(select(Follower).where(Follower.follower_uri == uri)).all())
    ended_ours = list(session.exec(select(Following).where(Following.target_uri == uri)).all())
    for row in [*ended, *ended_ours]:
        session.delete(row)
    if ended or ended_ours:
        tx.audit("account.deleted", f"remote:{uri}", {"followers_removed": len(ended),
                                          "following_removed": len(ended_ours)})
    return len(ended) + len(ended_ours)


def undo_follow_by_id(tx: Tx, follower_uri: str, follow_id: str) -> int:
    session = tx.session
    rows = session.exec(
        select(Follower).where(Follower.follower_uri == follower_uri,
                               Follower.follow_activity_id == follow_id)
    ).all()
    for row in rows:
        session.delete(row)
    return len(rows)


def answer_to_our_follow(tx: Tx, actor: LocalActor, follow_id: str,
                         from_actor: str, accepted: bool) -> bool:
    session = tx.session
    row = session.exec(
        select(Following).where(Following.actor_id == actor.id,
                                Following.target_uri == from_actor)
    ).first()
    if row is None or (follow_id and row.follow_activity_id != follow_id):
        return False
    row.state = "accepted" if accepted else "rejected"
    session.add(row)
    return True


def follow(tx: Tx, actor: LocalActor, target_uri: str, target_inbox: str) -> str:
    session, urls = tx.session, tx.urls
    activity: dict[str, Any] = {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_uid()),
        "type": "Follow",
        "actor": urls.actor(actor.handle),
        "object": target_uri,
        "to": [target_uri],
    }
    row = session.exec(
        select(Following).where(Following.actor_id == actor.id,
                                Following.target_uri == target_uri)
    ).first()
    if row is None:
        row = Following(actor_id=actor.id or 0, target_uri=target_uri, follow_activity_id="")
    row.follow_activity_id = activity["id"]
    row.state = "pending"
    session.add(row)
    publish(tx, actor, activity, to_followers=False, inboxes={target_inbox})
    return str(activity["id"])


def unfollow(tx: Tx, actor: LocalActor, target_uri: str, target_inbox: str) -> bool:
    session, urls = tx.session, tx.urls
    row = session.exec(
        select(Following).where(Following.actor_id == actor.id,
                                Following.target_uri == target_uri)
    ).first()
    if row is None:
        return False
    undo = {
        "@context": AS_CONTEXT,
        "id": urls.activity(new_uid()),
        "type": "Undo",
        "actor": urls.actor(actor.handle),
        "object": {"id": row.follow_activity_id, "type": "Follow",
                   "actor": urls.actor(actor.handle), "object": target_uri},
        "to": [target_uri],
    }
    session.delete(row)
    publish(tx, actor, undo, to_followers=False, inboxes={target_inbox})
    return True
