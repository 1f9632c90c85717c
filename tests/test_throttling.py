"""Throttling that says so: a key we cannot fetch now, or may not fetch yet, is
answered 503/429 with Retry-After (never 401, which tells a sender its signature is
bad); the per-host budget counts what costs us (failing fetches, unproven hosts), so a
burst of real first contacts passes; and one meaning of "host" for host-keyed tables.

The bursts run the app in-process (ASGI) against real fake servers on loopback that
serve the actors' documents; every request is really signed and verified."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.activitypub import keys
from node.activitypub.directory import expire_host_keys
from node.activitypub.fetch import retry_after_of
from node.activitypub.hosts import host_key, hostname_of, matches
from node.activitypub.throttle import UNIT, HostThrottle, Throttled
from node.app import create_app
from node.config import Settings
from node.models import RemoteActor
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote, start_fake_remote
from tests.fakeremote import RemoteActor as Sender

INBOX = f"{NODE_URL}/actors/maizal/inbox"
ACTOR = f"{NODE_URL}/actors/maizal"


class Clock:
    """The throttle's window clock, moved by hand instead of waiting a minute."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def post(client: TestClient, who: Sender, kind: str = "Create", obj: Any = None) -> Any:
    body, headers = who.signed_post(INBOX, who.activity(kind, obj))
    return client.post(INBOX, content=body, headers=headers)


# --- the answers -------------------------------------------------------------------


def test_a_key_that_is_not_there_is_401(client: TestClient, remote: FakeRemote) -> None:
    ghost = remote.actor("ghost")
    remote.get_failures[ghost.path] = 404
    r = post(client, ghost)
    assert r.status_code == 401 and "Retry-After" not in r.headers
    assert r.json()["code"] == "bad-signature"
    remote.get_failures.clear()
    impostor = remote.actor("impostor")
    body, headers = impostor.signed_post(INBOX, impostor.activity(), key=keys.generate_rsa())
    r = client.post(INBOX, content=body, headers=headers)
    assert r.status_code == 401 and "Retry-After" not in r.headers


@pytest.mark.parametrize("status", [503, 429, 500])
def test_a_key_that_cannot_be_fetched_now_is_503_with_retry_after(client: TestClient,
                                                                  remote: FakeRemote,
                                                                  status: int) -> None:
    alice = remote.actor("alice")
    remote.get_failures[alice.path] = status
    r = post(client, alice)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "key-unavailable"
    assert int(r.headers["Retry-After"]) >= 1
    remote.get_failures.clear()
    assert post(client, alice).status_code == 202


def test_failing_fetches_spend_the_budget_then_429_without_fetching(
        make_node: Callable[..., Settings], remote: FakeRemote) -> None:
    node = make_node(key_refetch_per_host_per_minute=2)
    remote.down = True
    with TestClient(create_app(node, background=False), base_url=NODE_URL) as c:
        codes = [post(c, remote.actor(name)) for name in ("a", "b", "c", "d")]
        assert [r.status_code for r in codes] == [503, 503, 429, 429]
        assert len(remote.gets) == 2  # held back before any fetch
        held = codes[2]
        assert held.json()["code"] == "too-many-key-fetches"
        assert 1 <= int(held.headers["Retry-After"]) <= 60
        assert "try again" in held.json()["detail"]


def test_a_host_that_answers_well_is_not_held_back_by_first_contacts(
        make_node: Callable[..., Settings], remote: FakeRemote) -> None:
    # A budget of 2 used to mean two actors a minute from a host; a host that answers
    # pays a tenth of it per new actor.
    node = make_node(key_refetch_per_host_per_minute=2)
    with TestClient(create_app(node, background=False), base_url=NODE_URL) as c:
        codes = [post(c, remote.actor(f"u{i}")).status_code for i in range(8)]
    assert codes == [202] * 8


def test_retry_after_from_the_peer_is_read_and_bounded() -> None:
    assert retry_after_of("120") == 120
    assert retry_after_of("0") == 1
    assert retry_after_of("99999999") == 3600
    assert retry_after_of("soon") is None and retry_after_of(None) is None
    assert retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT") == 1  # in the past


def test_the_budget_in_units_and_when_it_has_room_again() -> None:
    clock = Clock()
    throttle = HostThrottle(per_minute=3, clock=clock)  # 30 parts; a light fetch is 1
    first = throttle.admit("a.example", heavy=False)  # never answered us: a full unit
    assert first.charged == UNIT
    throttle.settle(first, ok=True)
    clock.now += 10
    for _ in range(10):
        throttle.settle(throttle.admit("a.example", heavy=False), ok=True)
    clock.now += 10
    failed = throttle.admit("a.example", heavy=False)
    throttle.settle(failed, ok=False)  # topped up to a full unit: 10 + 10 + 10 spent
    with pytest.raises(Throttled) as held:
        throttle.check("a.example")
    assert held.value.retry_after == 40  # when the first unit leaves the window
    assert throttle.admit("b.example", heavy=True).charged == UNIT  # hosts apart
    clock.now += 40
    throttle.check("a.example")
    assert throttle.admit("a.example", heavy=False).charged == 1


# --- bursts --------------------------------------------------------------------------


@functools.cache
def _shared_keys() -> tuple[Any, Any]:
    return keys.generate_rsa(), keys.generate_ed25519()


def senders(remote: FakeRemote, count: int, prefix: str) -> list[Sender]:
    """`count` actors on one server; they share a key pair (a fresh RSA key per actor
    would cost most of the test's time) but each has its own key id and document."""
    rsa, ed = _shared_keys()
    made = []
    for i in range(count):
        who = Sender(remote, f"{prefix}{i}", rsa, ed)
        remote.actors[who.name] = who
        made.append(who)
    return made


Run = Callable[[httpx.AsyncClient, Any], Awaitable[None]]


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[Any]:
    """Drive the ASGI lifespan protocol, as a server does (the app is wrapped in
    middleware, so FastAPI's own lifespan context is not reachable from here)."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield _inner(app).state
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


def _inner(app: Any) -> Any:
    while not hasattr(app, "state"):
        app = app.app
    return app


def run_app(settings: Any, body: Run) -> None:
    """Start the app's lifespan in this thread's event loop and hand over a client that
    can send many requests at once."""

    async def main() -> None:
        app = create_app(settings, background=False)
        async with lifespan(app) as state:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=NODE_URL,
                                         timeout=60) as client:
                await body(client, state.ctx)

    asyncio.run(main())


def follows(people: list[Sender]) -> list[tuple[bytes, dict[str, str]]]:
    return [p.signed_post(INBOX, p.activity("Follow", ACTOR)) for p in people]


async def send_all(client: httpx.AsyncClient,
                   requests: list[tuple[bytes, dict[str, str]]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.post(INBOX, content=b, headers=h)
                                       for b, h in requests)))


def watch_fetches(ctx: Any) -> Counter[str]:
    """Record the most fetches in flight at once per host (the cap under test)."""
    fetcher = ctx.directory.fetcher
    real = fetcher.get_json
    now: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def counted(url: str, *args: Any, **kw: Any) -> Any:
        host = host_key(url)
        now[host] += 1
        peak[host] = max(peak[host], now[host])
        try:
            return await real(url, *args, **kw)
        finally:
            now[host] -= 1

    fetcher.get_json = counted
    return peak


def test_first_contact_burst_from_25_instances_is_all_accepted(node: Settings) -> None:
    servers = [start_fake_remote() for _ in range(25)]
    try:
        people = [who for s in servers for who in senders(s, 20, "f")]
        requests = follows(people)
        assert len(requests) == 500

        async def body(client: httpx.AsyncClient, ctx: Any) -> None:
            peak = watch_fetches(ctx)
            started = time.monotonic()
            answers = await send_all(client, requests)
            elapsed = time.monotonic() - started
            assert Counter(r.status_code for r in answers) == {202: 500}, \
                [r.text for r in answers if r.status_code != 202][:3]
            assert elapsed < 60
            assert max(peak.values()) <= ctx.directory.throttle.per_host

        run_app(node, body)
        # One fetch per actor, however many requests were waiting for it.
        for s in servers:
            assert len(s.gets) == 20
    finally:
        # Each shutdown waits for its server's poll (up to 0.5 s): all at once.
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(FakeRemote.close, servers))


def test_single_instance_burst_is_held_back_with_retry_after_then_accepted(
        node: Settings, remote: FakeRemote) -> None:
    people = senders(remote, 500, "s")
    requests = follows(people)
    clock = Clock()

    async def body(client: httpx.AsyncClient, ctx: Any) -> None:
        ctx.directory.throttle.clock = clock
        peak = watch_fetches(ctx)
        answers = await send_all(client, requests)
        codes = Counter(r.status_code for r in answers)
        assert set(codes) == {202, 429}, codes
        assert 0 < codes[429] < 500
        held = [i for i, r in enumerate(answers) if r.status_code == 429]
        waits = {int(answers[i].headers["Retry-After"]) for i in held}
        assert all(1 <= w <= 60 for w in waits)
        assert {answers[i].json()["code"] for i in held} == {"too-many-key-fetches"}
        # What was held back cost no fetch, and never more than the cap at once.
        assert len(remote.gets) == codes[202]
        assert peak[remote.netloc] <= ctx.directory.throttle.per_host
        # The sender waits as told (here: the window's clock moves) and sends them
        # again. One round is enough unless the machine is so slow that some waited
        # longer than `max_wait` for a fetch slot (429 too, real time): then another.
        for _round in range(3):
            clock.now += max(waits)
            again = await send_all(client, [requests[i] for i in held])
            held = [i for i, r in zip(held, again, strict=True) if r.status_code == 429]
            assert {r.status_code for r in again} <= {202, 429}
            if not held:
                break
            waits = {int(r.headers["Retry-After"]) for r in again if r.status_code == 429}
        assert not held

    run_app(node, body)
    assert len(remote.gets) == 500


def test_concurrent_requests_of_one_new_actor_make_one_fetch(node: Settings,
                                                             remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    requests = [alice.signed_post(INBOX, alice.activity()) for _ in range(30)]

    async def body(client: httpx.AsyncClient, ctx: Any) -> None:
        answers = await send_all(client, requests)
        assert Counter(r.status_code for r in answers) == {202: 30}
        assert not ctx.directory._locks  # nothing left behind per actor

    run_app(node, body)
    assert remote.gets == [alice.path]


# --- what a host is ------------------------------------------------------------------


def test_one_meaning_of_host() -> None:
    assert host_key("https://A.Example/users/x") == "a.example"
    assert host_key("https://a.example:443/users/x") == "a.example"
    assert host_key("http://a.example:80/x") == "a.example"
    assert host_key("https://a.example:8443/x") == "a.example:8443"
    assert host_key("a.example:8443") == "a.example:8443"
    assert host_key("A.example") == "a.example"
    assert host_key("http://[::1]:8000/x") == "[::1]:8000"
    assert host_key("::1") == "[::1]" and host_key("[::1]") == "[::1]"
    assert hostname_of("https://a.example:8443/x") == "a.example"
    every, one = matches("a.example"), matches("a.example:8443")
    assert every("https://a.example:8443/u") and every("https://a.example/u")
    assert one("https://a.example:8443/u") and not one("https://a.example/u")
    assert not every("https://b.example/u") and not every("https://a.example.org/u")


def _rows(engine: Any) -> dict[str, bool]:
    with Session(engine) as s:
        return {r.uri: r.expired for r in s.exec(select(RemoteActor))}


def _seed(engine: Any) -> None:
    with Session(engine) as s:
        for uri, host in [
            ("https://a.example/u/1", "a.example"),
            ("https://a.example:8443/u/2", "a.example:8443"),
            ("https://a.example:9000/u/3", "a.example:9000"),
            # Stored before the host kept its port: the name alone.
            ("https://a.example:8443/u/old", "a.example"),
            ("https://a_example:8443/u/4", "a_example:8443"),
            ("https://b.example:8443/u/5", "b.example:8443"),
        ]:
            s.add(RemoteActor(uri=uri, host=host, document="{}"))
        s.commit()


def test_expire_by_host_and_port(client: TestClient) -> None:
    ctx = ctx_of(client)
    _seed(ctx.engine)
    assert expire_host_keys(ctx.engine, "A.example:8443") == 2
    assert {u for u, e in _rows(ctx.engine).items() if e} == {
        "https://a.example:8443/u/2", "https://a.example:8443/u/old"}


def test_expire_a_bare_host_covers_every_port(client: TestClient) -> None:
    ctx = ctx_of(client)
    _seed(ctx.engine)
    assert expire_host_keys(ctx.engine, "a.example") == 4
    assert {u for u, e in _rows(ctx.engine).items() if not e} == {
        "https://a_example:8443/u/4", "https://b.example:8443/u/5"}
    assert expire_host_keys(ctx.engine, "nowhere.example") == 0


def test_fetched_actors_are_stored_under_host_and_port(client: TestClient,
                                                       remote: FakeRemote) -> None:
    alice = remote.actor("alice")
    assert post(client, alice).status_code == 202
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        row = s.exec(select(RemoteActor).where(RemoteActor.uri == alice.uri)).one()
    assert row.host == remote.netloc
    # The cache forgets it by host:port and by the bare name alike.
    ctx.directory.forget_host(remote.netloc)
    assert alice.key_id not in ctx.directory._keys
    assert post(client, alice).status_code == 202
    ctx.directory.forget_host(hostname_of(remote.base))
    assert alice.key_id not in ctx.directory._keys
