"""Federation between real node processes on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Databases
from tests.fakeremote import FakeRemote, RemoteActor
from tests.noderows import rows
from tests.procnode import NodeProcess, wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(240)]


@pytest.fixture
def nodes(tmp_path: Path, databases: Databases) -> Iterator[Callable[..., NodeProcess]]:
    started: list[NodeProcess] = []

    def make(handle: str, **kw: Any) -> NodeProcess:
        n = NodeProcess(tmp_path, handle, databases.new(handle), **kw)
        started.append(n)
        return n

    yield make
    for n in started:
        n.stop()


def creates_from(node: NodeProcess, other: NodeProcess) -> list[str]:
    found = rows(node, "select body from inbox_item where activity_type = 'Create'")
    return [json.loads(r[0])["id"] for r in found if json.loads(r[0])["actor"] == other.actor]


def following_state(node: NodeProcess) -> list[str]:
    return [r[0] for r in rows(node, "select state from following")]


def test_two_nodes_follow_each_other_and_exchange(nodes: Callable[..., NodeProcess]) -> None:
    a, b = nodes("maizal"), nodes("ciudad", level="city")
    a.start()
    b.start()
    a.comuna("follow", f"@{b.handle}@127.0.0.1:{b.port}")
    b.comuna("follow", a.actor)
    wait_for(lambda: following_state(a) == ["accepted"] and following_state(b) == ["accepted"],
             what="mutual follows accepted")
    sent_a = [a.comuna("post", f"aviso {i} de la comuna").strip() for i in range(3)]
    sent_b = [b.comuna("post", "aviso de la ciudad").strip()]
    wait_for(lambda: len(creates_from(b, a)) == 3 and len(creates_from(a, b)) == 1,
             what="notes exchanged")
    assert sorted(creates_from(b, a)) == sorted(sent_a)
    assert creates_from(a, b) == sent_b
    # Mastodon-style discovery works against the real server too.
    jrd = httpx.get(f"{a.url}/.well-known/webfinger",
                    params={"resource": f"acct:maizal@127.0.0.1:{a.port}"}).json()
    assert jrd["links"][0]["href"] == a.actor


def test_node_that_was_down_receives_everything_once(nodes: Callable[..., NodeProcess]) -> None:
    fast = {"COMUNA_DELIVERY_BACKOFF_BASE": "0.3", "COMUNA_BREAKER_COOLDOWN": "1",
            "COMUNA_BREAKER_THRESHOLD": "3"}
    a, b = nodes("maizal", extra_env=fast), nodes("ciudad")
    a.start()
    b.start()
    b.comuna("follow", a.actor)
    wait_for(lambda: following_state(b) == ["accepted"], what="follow accepted")
    b.stop()
    sent = [a.comuna("post", f"mientras dormías {i}").strip() for i in range(6)]
    wait_for(lambda: a.status()["hosts"] and a.status()["hosts"][0]["last_error"],
             what="deliveries failing while the peer is down")
    assert creates_from(b, a) == []
    b.start()
    wait_for(lambda: a.status()["delivery"]["queued"] == 0, timeout=60,
             what="backlog drained")
    got = creates_from(b, a)
    assert sorted(got) == sorted(sent) and len(got) == len(set(got))


def test_sigkill_under_flood_loses_no_accepted_activity(nodes: Callable[..., NodeProcess],
                                                        remote: FakeRemote) -> None:
    b = nodes("ciudad")
    b.start()
    senders = [remote.actor(f"s{i}") for i in range(4)]
    accepted: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def flood(who: RemoteActor) -> None:
        with httpx.Client(timeout=5) as http:
            for n in range(400):
                if stop.is_set():
                    return
                act = who.activity(n=n)
                body, headers = who.signed_post(b.inbox, act)
                try:
                    r = http.post(b.inbox, content=body, headers=headers)
                except httpx.HTTPError:
                    continue
                if r.status_code == 202:
                    with lock:
                        accepted.append(act["id"])

    threads = [threading.Thread(target=flood, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    wait_for(lambda: len(accepted) >= 150, what="flood under way")
    b.kill()
    stop.set()
    for t in threads:
        t.join()
    assert accepted, "the flood got no answers at all"
    b.start()
    stored = {r[0] for r in rows(b, "select activity_id from inbox_item")}
    missing = set(accepted) - stored
    assert not missing, f"{len(missing)} activities answered 202 were lost"
    # And the rows left unprocessed by the crash get processed after the restart
    # (rows leased by the dead process wait for their 30 s lease to run out).
    wait_for(lambda: rows(b, "select count(*) from inbox_item where state = 'queued'")[0][0]
             == 0, timeout=90, what="inbox processed after restart")
