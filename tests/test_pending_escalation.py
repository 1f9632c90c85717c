"""A matter opened while the federation graph is out of reach is not kept local in
silence: it is marked pending, shown with the reason, and sent up once reachable."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from node.activitypub.directory import KeyUnavailable
from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.federations import escalation, graph, retries, routing
from node.governance import members
from node.models import Delivery, LocalActor, RemoteActor
from node.models.base import utcnow
from tests.economy_net import Net, add_links
from tests.fakeremote import FakeRemote
from tests.pageforms import login

PASSWORD = "contraseña-larga"


@pytest.fixture
def commune(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="maizal", level="commune")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "maizal")
        add_links(net.ctx, "maizal", [net.a.uri], "member_of")  # a plays the city
        with Session(net.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            members.grant(net.ctx.tx(s), members.create_member(net.ctx.tx(s), "facil", PASSWORD,
                                                               "F"),
                          body, "facilitator")
            s.commit()
        # The city lists maizal and b as its members, and b says it belongs to the city.
        a, b = net.a, net.b
        remote.docs[a.path] = {**a.document(), "members": f"{a.uri}/members"}
        remote.docs[f"{a.path}/members"] = {
            "id": f"{a.uri}/members", "type": "OrderedCollection",
            "orderedItems": [net.me, b.uri]}
        remote.docs[b.path] = {**b.document(), "memberOf": [a.uri]}
        yield net


def b_joins_the_city(net: Net) -> None:
    """b now says it belongs to the city (a plays it), and our copy of b is older than
    the freshness bound, as it is some seconds after the join."""
    net.remote.docs[net.b.path] = {**net.b.document(), "memberOf": [net.a.uri]}
    with Session(net.ctx.engine) as s:
        row = s.exec(select(RemoteActor).where(RemoteActor.uri == net.b.uri)).one()
        row.fetched_at = utcnow() - timedelta(seconds=graph.REFRESH_AGE + 1)
        s.add(row)
        s.commit()


def to_the_city(net: Net) -> list[Delivery]:
    with Session(net.ctx.engine) as s:
        return list(s.exec(select(Delivery).where(col(Delivery.inbox) == f"{net.a.uri}/inbox")))


def test_a_matter_the_graph_cannot_route_now_is_pending_then_sent(
        commune: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    net, c = commune, commune.client
    h = {"Authorization": "Bearer " + c.post(
        "/api/v1/tokens", json={"username": "facil", "password": PASSWORD}).json()["token"]}
    real = routing.settled
    down = {"on": True}

    async def flaky(ctx: NodeContext, body: LocalActor, affects: list[str],
                    holds: Callable[[routing.Plan], bool]) -> routing.Plan:
        if down["on"]:
            raise KeyUnavailable("cannot fetch the city: timed out")
        return await real(ctx, body, affects, holds)

    monkeypatch.setattr(routing, "settled", flaky)
    p = c.post("/api/v1/bodies/maizal/proposals", headers=h,
               json={"title": "Agua", "text": "Agua: texto completo.",
                     "affects": [net.me, net.b.uri]}).json()
    r = c.post(f"/api/v1/proposals/{p['id']}/deliberation", headers=h)
    assert r.status_code == 200, r.text
    shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()
    assert shown["federated"]["escalation"] == "pending"
    assert "timed out" in shown["federated"]["escalation_note"]
    assert to_the_city(net) == []
    # The page says so too, and offers no second sending while it waits.
    login(c, "facil")
    page = c.get(f"/p/{p['id']}").text
    assert "Esperando a la federación" in page
    assert "timed out" not in page  # the technical reason, in English, stays in the API
    assert f'action="/p/{p["id"]}/send-up"' not in page

    # Still out of reach: it stays pending, nothing sent.
    assert asyncio.run(escalation.retry_pending(net.ctx)) == 0
    assert c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()["federated"][
        "escalation"] == "pending"

    down["on"] = False
    assert asyncio.run(escalation.retry_pending(net.ctx)) == 1
    shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()
    assert shown["federated"]["escalation"] == "sent"
    assert shown["federated"]["escalated_to"] == net.a.uri
    assert "Esperando a la federación" not in c.get(f"/p/{p['id']}").text
    assert len(to_the_city(net)) == 1
    # Sent once: a later tick has nothing pending.
    assert asyncio.run(escalation.retry_pending(net.ctx)) == 0
    assert len(to_the_city(net)) == 1


def test_a_matter_no_known_federation_covers_waits_for_fresher_copies(
        commune: Net) -> None:
    """Our copy of a body may predate its joining a federation (the `Update` that says
    so is still on its way): 'nobody covers them all' is shown and asked again, never
    taken as final in silence."""
    net, c, remote = commune, commune.client, commune.remote
    remote.docs[net.b.path] = {**net.b.document(), "memberOf": []}  # not joined yet
    h = {"Authorization": "Bearer " + c.post(
        "/api/v1/tokens", json={"username": "facil", "password": PASSWORD}).json()["token"]}
    p = c.post("/api/v1/bodies/maizal/proposals", headers=h,
               json={"title": "Agua", "text": "Agua: texto completo.",
                     "affects": [net.me, net.b.uri]}).json()
    assert c.post(f"/api/v1/proposals/{p['id']}/deliberation", headers=h).status_code == 200
    shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()["federated"]
    assert shown["escalation"] == "pending"
    assert "no federation covers" in shown["escalation_note"]
    assert to_the_city(net) == []

    b_joins_the_city(net)  # our copy of b is older than the freshness bound by then
    assert asyncio.run(escalation.retry_pending(net.ctx)) == 1
    shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()["federated"]
    assert (shown["escalation"], shown["escalated_to"]) == ("sent", net.a.uri)
    assert len(to_the_city(net)) == 1


def test_a_matter_newly_left_waiting_is_tried_again_within_seconds(
        commune: Net, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our copy of a neighbour fetched just before its join was accepted: the members
    should not wait for a tick. Leaving a matter waiting wakes the retry loop, which
    tries again after its quick delay; a try that fails again does not wake it (no
    spinning). The loop's tick here is an hour, so only wake-ups can cause tries."""
    net, c, remote = commune, commune.client, commune.remote
    remote.docs[net.b.path] = {**net.b.document(), "memberOf": []}
    h = {"Authorization": "Bearer " + c.post(
        "/api/v1/tokens", json={"username": "facil", "password": PASSWORD}).json()["token"]}
    p = c.post("/api/v1/bodies/maizal/proposals", headers=h,
               json={"title": "Agua", "text": "Agua: texto completo.",
                     "affects": [net.me, net.b.uri]}).json()
    real = escalation.retry_pending
    calls: list[int] = []
    tried = asyncio.Event()

    async def counted(ctx: NodeContext) -> int:
        calls.append(1)
        sent = await real(ctx)
        tried.set()
        return sent

    monkeypatch.setattr(escalation, "retry_pending", counted)

    async def tries(n: int) -> None:
        while len(calls) < n:
            await asyncio.wait_for(tried.wait(), 20)
            tried.clear()

    def escalation_now() -> str:
        shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()["federated"]
        return str(shown["escalation"])

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(retries.keep_sending_up(net.ctx, stop, tick=3600,
                                                           quick=(0.05,)))
        await tries(2)  # its own quick try at its start (nothing waits yet), then the tick
        r = await asyncio.to_thread(
            c.post, f"/api/v1/proposals/{p['id']}/deliberation", headers=h)
        assert r.status_code == 200, r.text
        assert await asyncio.to_thread(escalation_now) == "pending"
        await tries(3)  # woken: tried again, and b still belongs to nobody
        assert await asyncio.to_thread(escalation_now) == "pending"
        # That failed try left the matter waiting as it was: no wake-up, no new try.
        await asyncio.sleep(0.5)
        assert len(calls) == 3
        assert to_the_city(net) == []
        await asyncio.to_thread(b_joins_the_city, net)
        net.ctx.escalation_wakeup.set()  # as another matter newly left waiting would
        await tries(4)
        stop.set()
        await asyncio.wait_for(loop, 20)

    asyncio.run(scenario())
    shown = c.get(f"/api/v1/proposals/{p['id']}", headers=h).json()["federated"]
    assert (shown["escalation"], shown["escalated_to"]) == ("sent", net.a.uri)
    assert len(to_the_city(net)) == 1
