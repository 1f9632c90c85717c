"""A real sending node and a follower's server that goes away and comes back: what was
queued meanwhile arrives within seconds of its return, and within seconds of the
sender's own restart after a SIGKILL (the breaker's state is in the database)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from node.config import load_settings
from node.context import NodeContext, build_context
from node.models import Delivery, Follower, PeerHost
from node.outbox.publish import post_note
from tests.conftest import Databases
from tests.fakeremote import FakeRemote, start_fake_remote
from tests.procnode import NodeProcess, wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(120)]
COOLDOWN = 1.0  # the first cooldown; it doubles while the peer stays away


@pytest.fixture
def sender(tmp_path: Path, databases: Databases) -> Iterator[NodeProcess]:
    node = NodeProcess(tmp_path, "sender", databases.new("sender"),
                       extra_env={"COMUNA_BREAKER_COOLDOWN": str(COOLDOWN)})
    yield node
    node.stop()


@pytest.fixture
def follower() -> Iterator[FakeRemote]:
    server = start_fake_remote()
    server.post_statuses = [(503, {})] * 10_000  # down until cleared
    yield server
    server.close()


def context_of(node: NodeProcess) -> NodeContext:
    return build_context(load_settings(node.data_dir))


def follow(ctx: NodeContext, remote: FakeRemote) -> None:
    assert ctx.primary.id is not None
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=ctx.primary.id, follower_uri=f"{remote.base}/users/bob",
                       inbox=f"{remote.base}/users/bob/inbox"))
        s.commit()


def publish(ctx: NodeContext, n: int) -> set[str]:
    ids = set()
    with Session(ctx.engine) as s:
        for i in range(n):
            ids.add(post_note(ctx.tx(s), ctx.primary, f"nota {i}").activity_id)
        s.commit()
    return ids


def arrived(remote: FakeRemote) -> dict[str, float]:
    """Activity id -> when the follower's server accepted it."""
    return {json.loads(p["body"])["id"]: p["at"] for p in list(remote.posts)
            if p["status"] == 202}


def breaker_open_and_rows_at_rest(ctx: NodeContext, host: str, n: int) -> bool:
    with Session(ctx.engine) as s:
        peer = s.get(PeerHost, host)
        rows = s.exec(select(Delivery)).all()
    return (peer is not None and peer.breaker == "open" and len(rows) == n
            and all(r.attempts >= 1 and r.lease_until is None for r in rows))


def test_a_follower_back_from_an_outage_gets_the_queue_within_seconds(sender: NodeProcess,
                                                                      follower: FakeRemote) -> None:
    ctx = context_of(sender)
    follow(ctx, follower)
    sender.start()
    ids = publish(ctx, 10)
    wait_for(lambda: breaker_open_and_rows_at_rest(ctx, follower.netloc, 10), 20,
             "breaker open after the failures")
    # Stay away long enough for the breaker to trip a few times (1, 2, 4 s…).
    time.sleep(4)
    refused = len(follower.posts)
    follower.post_statuses.clear()
    back = time.time()
    wait_for(lambda: set(arrived(follower)) >= ids, 15, "every note delivered")
    latest = max(arrived(follower)[i] for i in ids)
    # The rows themselves sit in 30 s backoff; the probe brings them all at once.
    assert latest - back < 8.0, f"last note {latest - back:.1f} s after the return"
    # One request per cooldown while away, not a retry storm.
    assert refused <= 10 + 6
    assert len([p for p in follower.posts if p["status"] == 202]) == 10


def test_sender_killed_with_deliveries_queued_delivers_soon_after_restart(
        sender: NodeProcess, follower: FakeRemote) -> None:
    ctx = context_of(sender)
    follow(ctx, follower)
    sender.start()
    ids = publish(ctx, 5)
    wait_for(lambda: breaker_open_and_rows_at_rest(ctx, follower.netloc, 5), 20,
             "breaker open after the failures")
    sender.kill()
    follower.post_statuses.clear()
    time.sleep(2 * COOLDOWN)  # the peer is back before the sender is
    sender.start()
    up = time.time()
    wait_for(lambda: set(arrived(follower)) >= ids, 15, "every note delivered")
    latest = max(arrived(follower)[i] for i in ids)
    # Measured from when it answers again: starting a process takes seconds of its own
    # on a loaded machine, and the probe goes out as the worker starts.
    assert latest - up < 5.0, f"last note {latest - up:.1f} s after the restart"
