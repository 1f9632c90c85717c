"""Work for a node's delivery queue, written to its database: a follower, a note posted."""

from __future__ import annotations

from sqlmodel import Session

from node.config import Settings
from node.context import build_context
from node.models import Follower
from node.outbox.publish import post_note
from tests.helpers import id_of


def add_follower(settings: Settings, inbox: str, uri: str) -> None:
    ctx = build_context(settings)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=id_of(ctx.primary), follower_uri=uri, inbox=inbox))
        s.commit()


def post(settings: Settings, text: str = "hola") -> str:
    ctx = build_context(settings)
    with Session(ctx.engine) as s:
        item = post_note(ctx.tx(s), ctx.primary, text)
        s.commit()
        return item.activity_id
