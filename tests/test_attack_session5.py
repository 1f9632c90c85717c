"""Session 5 review, as a stranger on the network: one signed request must not spoil the
group commit of everyone else's (the inbox writer stores a batch as one statement, so a
row the database cannot take failed every row that shared its batch)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from node.app import create_app
from node.config import Settings
from node.context import NodeContext, build_context
from node.inbox.writer import InboxWriter
from node.models import InboxItem
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote

INBOX = f"{NODE_URL}/actors/maizal/inbox"


@pytest.fixture
def ctx(node: Settings) -> Iterator[NodeContext]:
    context = build_context(node)
    yield context
    context.engine.dispose()


@pytest.fixture
def lenient(node: Settings) -> Iterator[TestClient]:
    """The node in-process, answering a server error as a 500 instead of raising it."""
    with TestClient(create_app(node, background=False), base_url=NODE_URL,
                    raise_server_exceptions=False) as c:
        yield c


def _row(activity_id: str) -> dict[str, Any]:
    when = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)
    return {"activity_id": activity_id, "activity_type": "Create",
            "actor": "https://far.example/users/a", "recipient": "maizal",
            "signer": "https://far.example/users/a#main-key", "body": "{}",
            "received_at": when, "state": "queued", "attempts": 0, "next_attempt_at": when,
            "lease_owner": None, "lease_until": None, "last_error": ""}


def _count(engine: Any) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(InboxItem)).one()


@pytest.mark.parametrize("poison", [
    "https://far.example/activities/\ud800",  # valid JSON as an escape, not UTF-8
    "https://far.example/activities/" + "x" * 2100,  # past the column (PostgreSQL)
], ids=["lone-surrogate", "too-long"])
def test_a_row_the_database_refuses_fails_alone_not_its_whole_batch(
        ctx: NodeContext, poison: str) -> None:
    """Two requests in one group commit: a good one, and one the database may refuse.
    The good one must be stored and answered whatever becomes of the other."""
    writer = InboxWriter(ctx.engine)

    async def both() -> list[BaseException | None]:
        writer.start()
        try:
            outcomes = await asyncio.gather(
                writer.store(_row("https://far.example/activities/good")),
                writer.store(_row(poison)),
                return_exceptions=True)
        finally:
            await writer.stop()
        return list(outcomes)

    good, bad = asyncio.run(both())
    assert good is None, f"the good row's sender was answered {good!r}"
    with Session(ctx.engine) as s:
        ids = set(s.exec(select(InboxItem.activity_id)).all())
    assert "https://far.example/activities/good" in ids
    # The other was either stored (SQLite keeps a long id) or refused, never half.
    assert (bad is None) == (poison in ids)


def test_an_unstorable_activity_id_is_refused_with_400_not_500(
        lenient: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    act = alice.activity()
    act["id"] += "-\ud800"
    # json.dumps writes the lone surrogate as the escape "\ud800": valid JSON, valid UTF-8.
    body, headers = alice.signed_post(INBOX, None, body=json.dumps(act).encode())
    r = lenient.post(INBOX, content=body, headers=headers)
    assert r.status_code == 400, (r.status_code, r.text)
    assert _count(ctx_of(lenient).engine) == 0


def test_an_activity_id_longer_than_its_column_is_refused_with_400(
        lenient: TestClient, remote: FakeRemote) -> None:
    """The column holds 2048 characters: PostgreSQL refuses a longer id (and, in a group
    commit, every row beside it); SQLite would store it. Either way: a clear 400."""
    alice = remote.actor("alice")
    act = alice.activity()
    act["id"] += "x" * 2100
    body, headers = alice.signed_post(INBOX, act)
    r = lenient.post(INBOX, content=body, headers=headers)
    assert r.status_code == 400, (r.status_code, r.text)
    assert _count(ctx_of(lenient).engine) == 0
