"""Readable names for the bodies and people a federated matter mentions.

Pages name a body or a spokesperson by what it calls itself ("Ciudad Comunal Sur",
"Ana Gómez"), never by its actor URL: our own bodies and members from our tables,
remote bodies from the copy of their actor document we keep (`name`, else
`preferredUsername`). Only what we have never seen falls back to handle@host."""

from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.models import LocalActor, Member, RemoteActor
from node.models.matters import SignedObject


def fallback(uri: str) -> str:
    """handle@host for something we know nothing else about."""
    parts = urlsplit(uri)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{last}@{parts.netloc}" if last and parts.netloc else uri


def _from_document(raw: str) -> str:
    try:
        doc = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(doc, dict):
        return ""
    for key in ("name", "preferredUsername"):
        value = doc.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:200]
    return ""


def spokesperson_names(session: Session, mandate_uris: Iterable[str]) -> dict[str, str]:
    """The names member bodies gave their spokespersons in the mandates they signed
    (`spokespersonNames`), for people of their own host only: a body vouches for its own
    members, not for anyone else's."""
    found: dict[str, str] = {}
    wanted = [u for u in dict.fromkeys(mandate_uris) if u]
    if not wanted:
        return found
    for author, raw in session.exec(select(SignedObject.author, SignedObject.body).where(
            col(SignedObject.uri).in_(wanted))).all():
        try:
            doc = json.loads(raw)
        except ValueError:
            continue
        named = doc.get("spokespersonNames") if isinstance(doc, dict) else None
        if not isinstance(named, dict):
            continue
        host = urlsplit(author).netloc
        for uri, name in named.items():
            if isinstance(uri, str) and isinstance(name, str) and name.strip() and \
                    urlsplit(uri).netloc == host:
                found[uri] = name.strip()[:200]
    return found


# Names are asked for wherever a page or notice shows a body or a person: built once.
_BODY_NAMES = select(col(LocalActor.handle), col(LocalActor.name)).where(
    col(LocalActor.handle).in_(bindparam("in", expanding=True)))
_PEOPLE_NAMES = select(col(Member.username), col(Member.display_name)).where(
    col(Member.username).in_(bindparam("in", expanding=True)))
_REMOTE_DOCUMENTS = select(col(RemoteActor.uri), col(RemoteActor.document)).where(
    col(RemoteActor.uri).in_(bindparam("in", expanding=True)))


def names(session: Session, urls: Urls, uris: Iterable[str],
          hints: dict[str, str] | None = None) -> dict[str, str]:
    """uri -> name for every uri given (bodies and spokespersons, ours or remote). `hints`
    (what a mandate says of its spokespersons) is used where our own tables say nothing."""
    wanted = [u for u in dict.fromkeys(uris) if u]
    found: dict[str, str] = {}
    base = urls.base.rstrip("/")
    handles = {urls.handle_of_actor(u): u for u in wanted}
    handles.pop(None, None)
    if handles:
        for handle, name in session.exec(_BODY_NAMES, params={"in": list(handles)}).all():
            found[str(handles[handle])] = name
    people = {u.rsplit("/", 1)[-1]: u for u in wanted
              if u.startswith(f"{base}/members/") and u not in found}
    if people:
        for username, display in session.exec(_PEOPLE_NAMES, params={"in": list(people)}):
            found[people[username]] = display or username
    remote = [u for u in wanted if u not in found and not u.startswith(base + "/")]
    if remote:
        for uri, raw in session.exec(_REMOTE_DOCUMENTS, params={"in": remote}).all():
            name = _from_document(raw)
            if name:
                found[uri] = name
    hints = hints or {}
    return {u: found.get(u) or hints.get(u) or fallback(u) for u in wanted}


def name_of(session: Session, urls: Urls, uri: str) -> str:
    return names(session, urls, [uri])[uri]
