"""The project bank: a body publishes a record of a project or an experience; it
spreads through the federation tree (each federation passes a record from one side
on to every other side: its members by FEP-1b12 `Announce`, its own federations by
forwarding the author's `Create` unchanged), so every node of the network holds it
and can search it; a body adopts one by publishing its own record that names the
origin (`adoptedFrom`), which every node counts.

On the wire a record is an ActivityStreams `Article` (Mastodon-style servers show
its title and summary) carrying our terms `sector`, `problem`, `actions`,
`resourcesUsed`, `projectOutcome`, `lessons`, `evaluation` and `adoptedFrom`, with the
author's FEP-8b32 proof on the object and on the activity.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import AS_PUBLIC, Urls
from node.errors import Problem, not_found
from node.federations.membership import inboxes
from node.governance.authz import require_facilitator
from node.models import LocalActor, Member, ProjectRecord
from node.models.base import utcnow
from node.outbox.publish import forward, new_uid, publish, with_proof
from node.tx import Tx

FIELDS = ("problem", "actions", "resources", "outcome", "lessons", "evaluation")
WIRE = {"problem": "problem", "actions": "actions", "resources": "resourcesUsed",
        "outcome": "projectOutcome", "lessons": "lessons", "evaluation": "evaluation"}


@dataclass(frozen=True)
class RecordDoc:
    id: str
    author: str
    title: str
    sector: str
    texts: dict[str, str]
    adopted_from: str
    published: datetime


def is_record(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "Article" and "lessons" in obj


def record_object(urls: Urls, body: LocalActor, d: RecordDoc) -> dict[str, Any]:
    summary = d.texts.get("problem", "")[:500]
    content = "".join(f"<p>{html.escape(d.texts[f])}</p>" for f in FIELDS if d.texts.get(f))
    doc: dict[str, Any] = {
        "id": d.id, "type": "Article", "attributedTo": d.author, "name": d.title,
        "summary": summary, "content": content, "contentMap": {"es": content},
        "sector": d.sector, "published": d.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "to": [AS_PUBLIC], "cc": [urls.followers(body.handle)],
        **{WIRE[f]: d.texts.get(f, "") for f in FIELDS}}
    if d.adopted_from:
        doc["adoptedFrom"] = d.adopted_from
    return doc


def read_record(doc: Any) -> RecordDoc:
    if not is_record(doc):
        raise Problem(422, "malformed", "not a project record")
    for key in ("id", "attributedTo"):
        if not isinstance(doc.get(key), str) or not doc[key].startswith(("http://",
                                                                          "https://")):
            raise Problem(422, "malformed", f"{key} must be a URL")
    title = doc.get("name")
    if not isinstance(title, str) or not title.strip():
        raise Problem(422, "malformed", "a project record needs a title")
    texts = {f: str(doc.get(WIRE[f]) or "")[:20000] for f in FIELDS}
    adopted = doc.get("adoptedFrom") or ""
    try:
        published = datetime.fromisoformat(str(doc.get("published", "")).replace("Z",
                                                                                 "+00:00"))
    except ValueError:
        published = utcnow()
    return RecordDoc(doc["id"], doc["attributedTo"], title.strip()[:300],
                     str(doc.get("sector") or "").strip().lower()[:100], texts,
                     adopted if isinstance(adopted, str) else "", published)


def _search_text(d: RecordDoc) -> str:
    return " ".join([d.title, d.sector, *d.texts.values()]).lower()


def _store(tx: Tx, d: RecordDoc, local_body: LocalActor | None,
           received_from: str) -> ProjectRecord | None:
    session = tx.session
    if session.exec(select(ProjectRecord.id).where(ProjectRecord.uri == d.id)).first():
        return None
    row = ProjectRecord(uri=d.id, author=d.author,
                        local_body_id=local_body.id if local_body else None, title=d.title,
                        sector=d.sector, adopted_from=d.adopted_from, published_at=d.published,
                        received_from=received_from, search_text=_search_text(d),
                        problem=d.texts["problem"], actions=d.texts["actions"],
                        resources=d.texts["resources"], outcome=d.texts["outcome"],
                        lessons=d.texts["lessons"], evaluation=d.texts["evaluation"])
    session.add(row)
    session.flush()
    return row


def publish_record(tx: Tx, body: LocalActor, title: str, sector: str, texts: dict[str, str],
                   adopted_from: str = "") -> ProjectRecord:
    session, urls = tx.session, tx.urls
    require_facilitator(session, tx.member, body)
    if not body.public:
        # Published to the public, the followers and the federations: a private body's
        # record would leave the circle it is kept in.
        raise Problem(409, "private-record",
                      "a private body's records stay among its members; the project bank "
                      "is public")
    if not title.strip():
        raise Problem(422, "bad-title", "a project record needs a title")
    if not any(texts.get(f, "").strip() for f in FIELDS):
        raise Problem(422, "empty-record", "say at least what the problem was or what was learned",
                      field="problem")
    d = RecordDoc(urls.obj(f"project-{new_uid()}"), urls.actor(body.handle),
                  title.strip()[:300], sector.strip().lower()[:100],
                  {f: texts.get(f, "").strip()[:20000] for f in FIELDS}, adopted_from,
                  tx.now())
    obj = with_proof(urls, body, {"@context": [AS_CONTEXT, urls.context],
                                  **record_object(urls, body, d)})
    row = _store(tx, d, body, "")
    assert row is not None
    activity = {"@context": [AS_CONTEXT, urls.context], "id": urls.activity(new_uid()),
                "type": "Create", "actor": d.author, "object": obj,
                "published": d.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "to": [AS_PUBLIC], "cc": [urls.followers(body.handle)]}
    targets = set(inboxes(session, body, "member_of").values()) | \
        set(inboxes(session, body, "has_member").values())
    publish(tx, body, activity, inboxes=targets)
    tx.audit("project.published", f"project:{row.id}", {"uri": d.id, "adopted_from": adopted_from})
    return row


def receive(tx: Tx, body: LocalActor, create: dict[str, Any],
            via: str) -> ProjectRecord | None:
    """A record reached `body` (the author's proof already checked): keep it once,
    and, at a federation, pass it on to every side but the one it came from."""
    session, urls = tx.session, tx.urls
    d = read_record(create.get("object"))
    row = _store(tx, d, None, via)
    if row is None:
        return None
    others = {inbox for uri, inbox in inboxes(session, body, "has_member").items()
              if uri not in (via, d.author)}
    if others:
        wrapped = {"@context": [AS_CONTEXT, urls.context], "id": urls.activity(new_uid()),
                   "type": "Announce", "actor": urls.actor(body.handle), "object": create,
                   "to": [f"{urls.actor(body.handle)}/members"],
                   "cc": [urls.followers(body.handle)]}
        publish(tx, body, wrapped, inboxes=others)
    up = {inbox for uri, inbox in inboxes(session, body, "member_of").items() if uri != via}
    if up:
        forward(tx, body, create, up)
    return row


def _adopt_refusal(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                   origin: ProjectRecord) -> Problem | None:
    """Why `member` may not adopt `origin` for `body` now (None: it may)."""
    try:
        require_facilitator(session, member, body)
    except Problem as exc:
        return exc
    here = urls.actor(body.handle)
    if origin.author == here:
        return Problem(409, "own-record", "a body does not adopt its own record")
    if session.exec(select(ProjectRecord.id).where(ProjectRecord.author == here,
                                                   ProjectRecord.adopted_from == origin.uri)
                    ).first():
        return Problem(409, "adopted", "this body has adopted that record already")
    return None


def available_actions(session: Session, urls: Urls, member: Member | None, body: LocalActor,
                      obj: ProjectRecord | LocalActor) -> list[str]:
    """What `member`, for `body`, may do: "publish" a record of the body (on the body),
    "adopt" a record (on a record). The mutators refuse the rest."""
    if isinstance(obj, LocalActor):
        try:
            require_facilitator(session, member, body)
        except Problem:
            return []
        return ["publish"]
    return [] if _adopt_refusal(session, urls, member, body, obj) else ["adopt"]


def adopt(tx: Tx, body: LocalActor, record_id: int, note: str = "") -> ProjectRecord:
    origin = tx.session.get(ProjectRecord, record_id)
    if origin is None:
        raise not_found("project record")
    why = _adopt_refusal(tx.session, tx.urls, tx.member, body, origin)
    if why is not None:
        raise why
    texts = {f: getattr(origin, f) for f in FIELDS}
    texts["actions"] = (note.strip() + "\n\n" if note.strip() else "") + texts["actions"]
    return publish_record(tx, body, origin.title, origin.sector, texts,
                          adopted_from=origin.uri)


def adoptions(session: Session, uris: list[str]) -> dict[str, int]:
    """How many bodies adopted each record, as far as this node knows."""
    if not uris:
        return {}
    rows = session.exec(select(ProjectRecord.adopted_from,
                               func.count(func.distinct(ProjectRecord.author))).where(
        col(ProjectRecord.adopted_from).in_(uris)).group_by(
        col(ProjectRecord.adopted_from))).all()
    return {u: int(n) for u, n in rows}


def search(session: Session, text: str = "", sector: str = "",
           limit: int = 50) -> list[ProjectRecord]:
    stmt = select(ProjectRecord)
    for word in text.lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(col(ProjectRecord.search_text).like(f"%{escaped}%", escape="\\"))
    if sector.strip():
        # Sectors are stored lower-cased (in Python, which knows every alphabet).
        stmt = stmt.where(ProjectRecord.sector == sector.strip().lower())
    return list(session.exec(stmt.order_by(col(ProjectRecord.published_at).desc())
                             .limit(limit)).all())


def view(row: ProjectRecord, adopted: int) -> dict[str, Any]:
    return {"id": row.id, "uri": row.uri, "author": row.author, "title": row.title,
            "sector": row.sector, **{f: getattr(row, f) for f in FIELDS},
            "adopted_from": row.adopted_from, "adoptions": adopted,
            "published_at": row.published_at.strftime("%Y-%m-%dT%H:%M:%SZ")}


