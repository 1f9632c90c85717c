"""Sending signed activities to Maizal's inbox in-process, and knowing when all are processed."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.context import NodeContext
from node.models import InboxItem
from tests.conftest import NODE_URL
from tests.fakeremote import RemoteActor

ACTOR = f"{NODE_URL}/actors/maizal"
INBOX = f"{ACTOR}/inbox"


def send(client: TestClient, who: RemoteActor, activity: dict[str, Any]) -> None:
    body, headers = who.signed_post(INBOX, activity)
    r = client.post(INBOX, content=body, headers=headers)
    assert r.status_code == 202, r.text


def processed(ctx: NodeContext) -> bool:
    with Session(ctx.engine) as s:
        return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())
