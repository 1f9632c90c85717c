"""An idle node loads only what its inbox needs: the inbox processor, the vote clock
and the economy pass wait for their first row (node/background.py), the ActivityPub
reads for their first request (node/lazyroutes.py), and none of it loads the JSON
API's models."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from sqlmodel import Session
from starlette.testclient import TestClient

from node.background import when_needed
from node.config import Settings
from node.context import build_context
from node.models import Follower
from tests.conftest import ctx_of

LOADED_LATER = ("node.inbox.processor", "node.governance.clock", "node.economy.clock",
                "node.federations.membership", "node.api.v1.outputs",
                "node.api.activitypub", "pydantic.v1", "node.governance.members", "argon2",
                "node.outbox.publish")


def test_starting_the_node_loads_no_background_loop_nor_the_api_models(node: Settings) -> None:
    code = ("import sys; from pathlib import Path; import node.app; "
            "from node.config import load_settings; "
            f"node.app.create_app(load_settings(Path({str(node.data_dir)!r})), "
            "background=False); "
            f"print(sorted(m for m in {LOADED_LATER!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


def test_the_health_check_and_the_first_actor_fetch_answer(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    handle = ctx_of(client).primary.handle
    r = client.get(f"/actors/{handle}", headers={"Accept": "application/activity+json"})
    assert r.status_code == 200 and r.json()["preferredUsername"] == handle
    assert client.get("/actors/nadie",
                      headers={"Accept": "application/activity+json"}).status_code == 404


def test_a_loop_starts_at_its_first_row_and_not_before(node: Settings) -> None:
    ctx = build_context(node)
    started: list[float] = []

    async def start(_ctx: object, stop: asyncio.Event) -> None:
        started.append(asyncio.get_running_loop().time())
        await stop.wait()

    async def scenario() -> float:
        stop = asyncio.Event()
        wakeup = asyncio.Event()
        # A tick far away: only the wake-up can start it within the test.
        gate = asyncio.create_task(when_needed(ctx, stop, (Follower,), wakeup, 60.0, start))
        await asyncio.sleep(0.3)
        assert started == [], "started with no row to work on"
        wakeup.set()  # a wake-up without a row starts nothing either
        await asyncio.sleep(0.3)
        assert started == []
        with Session(ctx.engine) as s:
            s.add(Follower(actor_id=ctx.primary.id or 0, follower_uri="https://x.example/u",
                           inbox="https://x.example/u/inbox"))
            s.commit()
        stored = asyncio.get_running_loop().time()
        wakeup.set()
        for _ in range(100):
            if started:
                break
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(gate, 5)
        return started[0] - stored

    try:
        assert asyncio.run(scenario()) < 2.0
    finally:
        ctx.engine.dispose()


def test_a_row_left_from_before_starts_the_loop_at_once(node: Settings) -> None:
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        s.add(Follower(actor_id=ctx.primary.id or 0, follower_uri="https://x.example/u",
                       inbox="https://x.example/u/inbox"))
        s.commit()
    ran: list[bool] = []

    async def start(_ctx: object, stop: asyncio.Event) -> None:
        ran.append(True)

    async def scenario() -> None:
        await asyncio.wait_for(
            when_needed(ctx, asyncio.Event(), (Follower,), None, 60.0, start), 5)

    try:
        asyncio.run(scenario())
        assert ran == [True]
    finally:
        ctx.engine.dispose()


def test_the_gate_ends_with_the_node(node: Settings) -> None:
    ctx = build_context(node)

    async def start(_ctx: object, stop: asyncio.Event) -> None:
        raise AssertionError("no row: never started")

    async def scenario() -> None:
        stop = asyncio.Event()
        gate = asyncio.create_task(when_needed(ctx, stop, (Follower,), None, 60.0, start))
        await asyncio.sleep(0.1)
        stop.set()
        await asyncio.wait_for(gate, 2)

    try:
        asyncio.run(scenario())
    finally:
        ctx.engine.dispose()
