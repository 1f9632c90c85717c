"""Whether the objects an arriving activity carries are its actor's (pure).

A remote object is made, changed or withdrawn only by the actor that owns it: named on
its host and attributed to it. No database and no network here, so the inbox's
endpoint can ask it of an activity before storing it (`node.inbox.triage`) without
loading the authority checks and the federations' rules with its first request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from node.inbox.kinds import Kind


def id_of(value: Any) -> str:
    return str(value.get("id", "")) if isinstance(value, dict) else str(value or "")


def _authority(uri: str) -> str:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return ""
    return (parts.netloc or "").lower() if parts.scheme in ("http", "https") else ""


def _same_origin(a: str, b: str) -> bool:
    return bool(a) and bool(b) and _authority(a) == _authority(b) != ""


def _owned(obj: Any, owner: str, what: str) -> str:
    """'' if `obj` is `owner`'s: attributed to it and named on its host."""
    if not isinstance(obj, dict):
        return f"the {what} is not given inline"
    if id_of(obj.get("attributedTo")) != owner:
        return f"the {what} is not attributed to {owner}"
    if not _same_origin(id_of(obj), owner):
        return f"the {what}'s id is not on its author's host"
    return ""


def ownership_problem(kind: Kind, activity: dict[str, Any], sender: str) -> str:
    """Why the objects an activity carries are not its actor's to create, change or
    withdraw ('' when they are). A remote object is made and changed only by the actor
    that owns it: named on its host, attributed to it."""
    actor = id_of(activity.get("actor"))
    obj = activity.get("object")
    if kind in (Kind.matter_up, Kind.decision, Kind.mandate, Kind.mandated_vote,
                Kind.exchange_offer, Kind.plan, Kind.project_record, Kind.intent,
                Kind.amendment, Kind.vote_opened):
        what = {Kind.matter_up: "proposal", Kind.decision: "decision",
                Kind.exchange_offer: "agreement", Kind.project_record: "record",
                Kind.intent: "offer or need"}.get(
            kind, kind.value)
        return _owned(obj, actor, what)
    if kind == Kind.matter_version:
        # A federation re-signs the new version of a matter it decides; the matter
        # stays named on, and attributed to, the body that raised it.
        if actor != sender:
            return "a new version is sent by the federation itself, not relayed"
        author = id_of(obj.get("attributedTo")) if isinstance(obj, dict) else ""
        if not _same_origin(id_of(obj), author):
            return "the matter's id is not on its author's host"
        return ""
    if kind in (Kind.matter_down, Kind.decision_down, Kind.project_down):
        inner = obj if isinstance(obj, dict) else {}
        inner_actor = id_of(inner.get("actor"))
        if inner.get("type") == "Update" and kind == Kind.matter_down:
            # Checked in full by the handler against the deciding level.
            return ownership_problem(Kind.matter_version, inner, inner_actor)
        return _owned(inner.get("object"), inner_actor, "announced object")
    if kind == Kind.delivery:
        return "" if _same_origin(id_of(obj), actor) else \
            "the delivery's id is not on its author's host"
    if kind == Kind.delete:
        return "" if _same_origin(id_of(obj), actor) else \
            "only what is named on the actor's own host can be deleted by it"
    if kind == Kind.agreement:
        return _owned(activity.get("result"), actor, "agreement")
    return ""
