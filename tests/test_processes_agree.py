"""Every process of a node sees the same bodies, blocks and keys within a second of a
change: two contexts on one database on a hand-driven clock, then real processes
(`comuna serve` with two web workers and a separate `comuna worker`)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from node.activitypub.directory import expire_host_keys
from node.activitypub.urls import Urls
from node.config import Settings, load_settings
from node.context import NodeContext, UnknownBody, build_context
from node.governance import bodies, members
from node.outbox.status import set_blocked
from node.storage import changes
from node.storage.db import make_engine
from node.tx import Tx
from tests.conftest import Databases
from tests.fakeremote import FakeRemote
from tests.procnode import NodeProcess, wait_for, worker_beside

pytestmark = pytest.mark.timeout(120)
PASSWORD = "contraseña-larga"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two(node: Settings) -> Iterator[tuple[NodeContext, NodeContext, Clock]]:
    """Two contexts on one database: what two processes of one node hold."""
    clock = Clock()
    a, b = build_context(node), build_context(node)
    for ctx in (a, b):
        ctx.feed.clock = clock
        ctx.load()
    yield a, b, clock
    for ctx in (a, b):
        ctx.engine.dispose()


def _new_body(ctx: NodeContext, handle: str, announce: bool = True) -> None:
    with Session(ctx.engine) as s:
        parent = bodies.body_by_handle(s, ctx.primary.handle)
        bodies.create_body(ctx.tx(s), parent, handle, handle.title(), "communal_council")
        if announce:
            changes.bump(s, changes.BODIES)
        s.commit()


def test_a_body_made_elsewhere_is_found_on_the_first_miss(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, _clock = two
    _new_body(a, "consejo")
    assert "consejo" in b.actors  # no clock step: the miss itself reads the table
    assert b.actors["consejo"].handle == "consejo"
    assert b.signing_key("consejo").key_id.endswith("/actors/consejo#main-key")


def test_misses_from_strangers_reload_at_most_every_fifth_of_a_second(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, clock = two
    assert b.actors.get("nadie") is None  # this miss read the table
    _new_body(a, "consejo")
    # A second unknown handle at once is answered from memory: no read, not found yet.
    assert b.actors.get("consejo") is None
    clock.now += 0.2
    assert b.actors.get("consejo") is not None


def test_the_feed_reloads_bodies_within_a_second_even_without_a_miss(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, clock = two
    before = len(b.actors)
    _new_body(a, "consejo")
    assert len(b.actors) == before
    clock.now += 1.0
    assert len(b.actors) == before + 1 and "consejo" in list(b.actors)


def test_signing_for_a_body_made_elsewhere_reloads_even_within_the_miss_limit(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, _clock = two
    assert b.actors.get("nadie") is None  # spends the miss allowance
    _new_body(a, "consejo", announce=False)
    key = b.signing_key("consejo")
    assert key.key_id == b.urls.main_key("consejo")
    with pytest.raises(UnknownBody):
        b.signing_key("nadie")


def test_blocks_are_honoured_by_the_other_process_within_a_second(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, clock = two
    assert not b.is_blocked("mal.example")
    set_blocked(a.engine, "mal.example", True)
    changes.bump_now(a.engine, changes.BLOCKS)
    assert not b.is_blocked("mal.example")  # b looked less than a second ago
    clock.now += 1.0
    assert b.is_blocked("mal.example")


def test_expired_keys_are_forgotten_by_the_other_process_within_a_second(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, clock = two
    doc = {"id": "https://lejos.example/users/ana"}
    b._directory._docs[doc["id"]] = (doc, 0.0)
    expire_host_keys(a.engine, "lejos.example")
    changes.bump_now(a.engine, changes.KEYS)
    assert doc["id"] in b.directory._docs
    clock.now += 1.0
    assert doc["id"] not in b.directory._docs


def test_a_bump_of_a_topic_the_migration_did_not_seed_starts_it(
        two: tuple[NodeContext, NodeContext, Clock]) -> None:
    a, b, clock = two
    with Session(a.engine) as s:
        changes.bump(s, "new-topic")
        changes.bump(s, "new-topic")
        s.commit()
    assert changes.versions(a.engine)["new-topic"] == 2
    clock.now += 1.0
    assert "new-topic" in b.sync()


# --- real processes ----------------------------------------------------------------


def _signed(remote: FakeRemote, url: str, activity: dict[str, Any]) -> httpx.Response:
    body, headers = remote.actor("alice").signed_post(url, activity)
    return httpx.post(url, content=body, headers=headers, timeout=10)


def _within_a_second(what: str, since: float, attempt: Callable[[], httpx.Response],
                     ok: Callable[[int], bool]) -> None:
    """Retry `attempt` until `ok`; a wrong answer to a request sent more than a second
    after the change is a failure (send time, so a slow machine does not count)."""
    while True:
        sent = time.monotonic()
        status = attempt().status_code
        if ok(status):
            return
        assert sent - since <= 1.0, f"{what}: {status} {sent - since:.2f} s after the change"
        time.sleep(0.05)


@pytest.fixture
def node_pair(tmp_path: Path, databases: Databases,
              capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[NodeProcess, dict[str, str]]]:
    """`comuna serve` with two web workers and no background loops, and one `comuna
    worker` beside it doing the inbox processing and delivery; and the headers of a
    facilitator of the node's primary body and of its admin token."""
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"),
                       extra_env={"COMUNA_WORKERS": "2", "COMUNA_BACKGROUND": "0"})
    found = re.search(r"Facilitator token \(shown once, keep it safe\): (\S+)",
                      capsys.readouterr().out)
    assert found, "the pattern is not in the text"
    admin = found.group(1)
    # The database is migrated by `init`: the worker may start beside the web server.
    try:
        with worker_beside(node):
            head = _facilitator(node)
            node.start()
            yield node, {"head": head["Authorization"], "admin": f"Bearer {admin}"}
    finally:
        node.stop()


def _facilitator(node: NodeProcess) -> dict[str, str]:
    """Made in the database directly: two argon2 rounds over HTTP cost seconds here."""
    url = json.loads((node.data_dir / "comuna.json").read_text())["database_url"]
    engine = make_engine(url)
    urls = Urls(load_settings(node.data_dir).url)
    try:
        with Session(engine) as s:
            rosa = members.create_member(Tx(s, urls), "rosa", PASSWORD, "Rosa")
            members.grant(Tx(s, urls), rosa, bodies.body_by_handle(s, node.handle),
                          "facilitator")
            _, raw = members.create_token(Tx(s, urls, rosa))
            s.commit()
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {raw}"}


def _accepts(remote: FakeRemote) -> set[str]:
    """Handles of the bodies whose Accepts reached the remote, signed by those bodies."""
    found = set()
    for post in list(remote.posts):
        doc = json.loads(post["body"])
        handle = str(doc.get("actor", "")).rsplit("/", 1)[-1]
        if doc.get("type") == "Accept" and \
                f"/actors/{handle}#main-key" in post["headers"].get("Signature", ""):
            found.add(handle)
    return found


def _answers_for(node: NodeProcess, remote: FakeRemote, handle: str, made: float) -> None:
    actor = f"{node.url}/actors/{handle}"
    # One Follow per body, sent again each time (a repeated id is acknowledged and stored
    # once): the worker answers it once.
    follow = {**remote.actor("alice").activity("Follow", obj=actor),
              "id": f"{remote.base}/activities/follow-{handle}"}
    _within_a_second(f"actor {handle}", made, lambda: httpx.get(
        actor, headers={"Accept": "application/activity+json"}), lambda s: s == 200)
    _within_a_second(f"webfinger {handle}", made, lambda: httpx.get(
        f"{node.url}/.well-known/webfinger",
        params={"resource": f"acct:{handle}@127.0.0.1:{node.port}"}), lambda s: s == 200)
    _within_a_second(f"inbox {handle}", made, lambda: _signed(
        remote, f"{actor}/inbox", follow), lambda s: 200 <= s < 300)


def test_every_process_answers_for_a_new_body_and_honours_a_block(
        node_pair: tuple[NodeProcess, dict[str, str]], remote: FakeRemote) -> None:
    node, auth = node_pair
    alice = remote.actor("alice")
    # The worker is up (its context built) once it has answered a Follow of the primary
    # body: the councils below are made after it started.
    home = f"{node.url}/actors/maizal"
    assert _signed(remote, f"{home}/inbox", alice.activity("Follow", obj=home)).status_code == 202
    wait_for(lambda: "maizal" in _accepts(remote), timeout=20, what="worker answering")

    handles = [f"consejo{i}" for i in range(3)]
    for handle in handles:
        r = httpx.post(f"{node.url}/api/v1/bodies/maizal/bodies",
                       headers={"Authorization": auth["head"]},
                       json={"handle": handle, "name": handle.title(),
                             "kind": "communal_council"})
        assert r.status_code == 201, r.text
        made = time.monotonic()
        # New connections each time, so both web workers take turns answering.
        for _ in range(6):
            _answers_for(node, remote, handle, made)

    # The worker answers each Follow with an Accept signed by the body followed.
    wait_for(lambda: _accepts(remote) >= set(handles), timeout=20,
             what="Accepts from every body")
    assert "KeyError" not in (node.data_dir / "worker.log").read_text()

    # A block set through one web worker holds in the other within a second.
    probe = alice.activity("Follow", obj=home)
    r = httpx.post(f"{node.url}/api/v1/admin/hosts/{remote.netloc}/block",
                   headers={"Authorization": auth["admin"]})
    assert r.status_code == 200, r.text
    blocked = time.monotonic()
    refused = 0
    while refused < 12:
        sent = time.monotonic()
        status = _signed(remote, f"{home}/inbox", probe).status_code
        if status == 403:
            refused += sent - blocked > 1.0
        else:
            assert sent - blocked <= 1.0, f"{status} {sent - blocked:.2f} s after the block"
        time.sleep(0.05)


def test_a_wakeup_set_from_another_thread_wakes_the_loop_at_once() -> None:
    """Sync routes and work in threads publish, then wake the workers waiting on the loop."""
    import asyncio
    import threading

    from node.context import Wakeup

    async def main() -> float:
        event = Wakeup()
        started = time.monotonic()
        threading.Timer(0.05, event.set).start()
        # A plain asyncio.Event set from a thread leaves the loop asleep in its selector.
        await asyncio.wait_for(event.wait(), 3.0)
        return time.monotonic() - started

    assert asyncio.run(main()) < 1.0
