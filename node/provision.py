"""A node's first steps, as `comuna init` and `comuna invite` take them: the database
at the latest schema, the primary body with its keys, a facilitator token, and
invitations. The CLI asks its questions and prints; `comuna demo` calls these for its
own nodes without starting a process for each."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import NamedTuple

from sqlmodel import Session

from node.activitypub.identity import create_local_actor, primary_actor
from node.config import Settings, load_settings, write_config_file
from node.context import build_context
from node.governance import bodies, members
from node.storage import changes
from node.storage.db import make_null_engine
from node.storage.migrate import upgrade
from node.storage.schema_head import is_current


class Initialised(NamedTuple):
    handle: str
    host: str
    level: str
    token: str | None  # None: the node was there already
    refused: str = ""


def init_node(data_dir: Path, url: str, handle: str, name: str, level: str) -> Initialised:
    """What `comuna init` does once it knows its answers: the database at the latest
    schema, the primary body with its keys, and a config file holding the hash of a new
    facilitator token. `comuna demo` calls it for its nodes in its own process (one
    at a time: Alembic keeps its state in the module)."""
    settings = load_settings(data_dir, url=url, handle=handle, name=name, level=level)
    engine = make_null_engine(settings.effective_database_url)
    if not is_current(engine):
        upgrade(engine)
    with Session(engine) as s:
        current = primary_actor(s)
        if current is not None:
            if current.handle != settings.handle:
                return Initialised(current.handle, settings.host, current.level, None,
                                   f"this node already hosts @{current.handle}; its handle "
                                   "cannot change")
            return Initialised(current.handle, settings.host, current.level, None)
        create_local_actor(s, settings.handle, settings.name, settings.level.value, primary=True)
        changes.bump(s, changes.BODIES)
        s.commit()
    token = secrets.token_urlsafe(32)
    write_config_file(data_dir, {
        "url": settings.url, "handle": settings.handle, "name": settings.name,
        "level": settings.level.value,
        "admin_token_sha256": hashlib.sha256(token.encode()).hexdigest(),
    })
    return Initialised(settings.handle, settings.host, settings.level.value, token)


def invite(settings: Settings, role: str, days: int = 7, body_handle: str | None = None
           ) -> tuple[str, str]:
    """A single-use invitation to a body of the node (its primary body by default), as
    `comuna invite` makes it: the node's base URL and the raw token, shown once."""
    ctx = build_context(settings)
    with Session(ctx.engine) as s:
        body = bodies.body_by_handle(s, body_handle or ctx.primary.handle)
        raw = members.invite(ctx.tx(s), body, role, days)
        s.commit()
    return ctx.urls.base, raw
