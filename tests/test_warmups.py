"""Warm-ups of the federation graph are deferred and gathered (node/inbox/warmups.py): a
burst of matters affecting the same bodies warms them once, after the burst, and never
while the matter is being processed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from node.federations import graph
from node.inbox import warmups
from node.inbox.warmups import WarmUps


@pytest.fixture
def warmed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    calls: list[list[str]] = []

    async def fake_warm(ctx: Any, uris: Any) -> None:
        calls.append(list(uris))

    monkeypatch.setattr(graph, "warm", fake_warm)
    return calls


def test_a_burst_is_warmed_once_after_its_delay(warmed: list[list[str]]) -> None:
    drawn: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        drawn.append((low, high))
        return 0.2

    async def scenario() -> None:
        ups = WarmUps(ctx=None, draw=draw)  # type: ignore[arg-type]
        stop = asyncio.Event()
        running = asyncio.create_task(ups.run(stop))
        ups.ask(["https://a.example/actors/a", "https://b.example/actors/b"])
        await asyncio.sleep(0.05)
        ups.ask(["https://b.example/actors/b", "https://c.example/actors/c"])
        await asyncio.sleep(0.05)
        assert warmed == []  # not while the burst is being processed
        for _ in range(100):
            if warmed:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(running, 2)
        assert ups.pending == []

    asyncio.run(scenario())
    assert warmed == [["https://a.example/actors/a", "https://b.example/actors/b",
                       "https://c.example/actors/c"]]
    assert drawn == [warmups.DELAY]


def test_a_stop_ends_the_wait_and_nothing_asked_is_nothing_fetched(
        warmed: list[list[str]]) -> None:
    async def scenario() -> list[str]:
        ups = WarmUps(ctx=None, draw=lambda low, high: 3600.0)  # type: ignore[arg-type]
        stop = asyncio.Event()
        idle = asyncio.create_task(ups.run(stop))
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(idle, 2)  # idle: the stop ends it at once
        stop.clear()
        waiting = asyncio.create_task(ups.run(stop))
        ups.ask(["https://a.example/actors/a"])
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(waiting, 2)  # waiting out its delay: the same
        return ups.pending

    # Asked and stopped before its delay: kept, not fetched (nothing waits on it).
    assert asyncio.run(scenario()) == ["https://a.example/actors/a"]
    assert warmed == []


def test_flush_warms_what_is_pending_once(warmed: list[list[str]]) -> None:
    async def scenario() -> None:
        ups = WarmUps(ctx=None)  # type: ignore[arg-type]
        ups.ask(["https://a.example/actors/a"])
        await ups.flush()
        await ups.flush()

    asyncio.run(scenario())
    assert warmed == [["https://a.example/actors/a"]]


def test_a_matter_from_above_is_made_before_its_warm_up(
        client: Any, remote: Any) -> None:
    """A commune takes its city's `Announce` of a matter: its row is made with only the
    author's document fetched (for the proof); the other body the matter affects, and
    the federations above it, are fetched by the warm-up afterwards."""
    from sqlmodel import Session, select

    from node.context import build_context
    from node.federations import objects
    from node.inbox.processor import InboxProcessor
    from node.models import FederationLink, LocalActor, Proposal
    from node.models.base import utcnow
    from tests.conftest import NODE_URL, ctx_of

    ctx = ctx_of(client)
    me = f"{NODE_URL}/actors/maizal"
    city, author, other = remote.actor("f"), remote.actor("c"), remote.actor("b")
    remote.docs["/users/c"] = {**author.document(), "memberOf": [city.uri]}
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        s.add(FederationLink(body_id=body.id or 0, remote_uri=city.uri, direction="member_of",
                             state="accepted", remote_inbox=f"{city.uri}/inbox"))
        s.commit()
    matter = f"{remote.base}/objects/matter-1"
    proposal = author.prove({"@context": "https://www.w3.org/ns/activitystreams",
                             **objects.proposal_object(
                                 matter, author.uri, "Agua", "Medir.",
                                 [author.uri, other.uri, me], 1,
                                 utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"))})
    create = author.prove(author.activity("Create", proposal))
    announce = city.prove(city.activity("Announce", create))
    body_bytes, headers = city.signed_post(f"{me}/inbox", announce)
    assert client.post(f"{me}/inbox", content=body_bytes,
                       headers=headers).status_code == 202

    async def scenario() -> list[str]:
        pctx = build_context(ctx.settings)
        proc = InboxProcessor(pctx)
        try:
            assert await proc.run_once() == 1
            with Session(pctx.engine) as s:
                assert s.exec(select(Proposal).where(Proposal.matter == matter)).first()
            assert "/users/b" not in remote.gets  # not fetched while processing
            pending = proc.warmups.pending
            await proc.warmups.flush()
            return pending
        finally:
            await pctx.fetcher.client.aclose()

    assert sorted(asyncio.run(scenario())) == sorted([author.uri, other.uri, me])
    assert "/users/b" in remote.gets  # the warm-up did
