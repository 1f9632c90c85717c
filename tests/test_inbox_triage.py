"""An activity nothing here acts on is stored already handled; everything else waits
for the processor (node/inbox/triage.py). Each case is sent as a remote server would,
signed, through the inbox endpoints."""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.inbox.processor import InboxProcessor
from node.models import InboxItem
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote

INBOX = f"{NODE_URL}/actors/maizal/inbox"
SHARED = f"{NODE_URL}/inbox"


def _states(client: TestClient) -> dict[str, str]:
    with Session(ctx_of(client).engine) as s:
        return {row.activity_type: row.state for row in s.exec(select(InboxItem)).all()}


def _send(client: TestClient, remote: FakeRemote, url: str, doc: dict[str, object],
          name: str = "alice") -> None:
    body, headers = remote.actor(name).signed_post(url, doc)
    r = client.post(url, content=body, headers=headers)
    assert r.status_code == 202, r.text


def test_what_nothing_acts_on_is_stored_handled_and_never_claimed(
        client: TestClient, remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    _send(client, remote, INBOX, alice.activity())
    _send(client, remote, SHARED, alice.activity("Like", "https://elsewhere.example/n/1"))
    follow = alice.activity("Follow", f"{NODE_URL}/actors/maizal")
    _send(client, remote, INBOX, follow)
    assert _states(client) == {"Create": "done", "Like": "done", "Follow": "queued"}
    # The processor's one pass takes the Follow alone: the handled rows are not its.
    ctx = ctx_of(client)
    claimed: list[str] = []
    proc = InboxProcessor(ctx)
    real = proc._claim

    def counting() -> tuple[list[object], object]:
        rows, handled = real()
        claimed.extend(row.activity_id for row in rows)
        return rows, handled

    proc._claim = counting  # type: ignore[method-assign, assignment]
    asyncio.run(proc.run_once())
    assert claimed == [follow["id"]]
    assert _states(client)["Follow"] != "queued"


def test_a_relayed_note_without_its_authors_proof_is_not_stored(
        client: TestClient, remote: FakeRemote) -> None:
    # Settling on arrival comes after every check: what the endpoint refuses (here a
    # Note of bob's signed by alice, without bob's proof) is refused as before.
    bob = remote.actor("bob")
    body, headers = remote.actor("alice").signed_post(INBOX, bob.activity())
    assert client.post(INBOX, content=body, headers=headers).status_code == 403
    assert _states(client) == {}


def test_a_note_for_bodies_this_process_does_not_hold_waits_for_the_full_check(
        client: TestClient, remote: FakeRemote, monkeypatch: pytest.MonkeyPatch) -> None:
    # The shared inbox of a process whose copy of the bodies is empty (one just created
    # by another process) leaves the verdict to the processor.
    monkeypatch.setattr(ctx_of(client).actors, "held", dict)
    _send(client, remote, SHARED, remote.actor("alice").activity())
    assert _states(client) == {"Create": "queued"}
