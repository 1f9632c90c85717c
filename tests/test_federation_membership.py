"""Communes join a communal city (real node processes), the graph is learned from actor
documents, and the deciding level follows it; answers from the wrong actor change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.context import NodeContext
from node.federations import membership
from node.models import FederationLink
from tests.conftest import Databases, ctx_of
from tests.fakeremote import FakeRemote
from tests.helpers import id_of
from tests.procnode import NodeProcess, wait_for

pytestmark = [pytest.mark.federation, pytest.mark.timeout(240)]
PASSWORD = "contraseña-larga"


def facilitator(node: NodeProcess) -> dict[str, str]:
    token = node.invitation()
    httpx.post(f"{node.url}/api/v1/invitations/{token}/accept",
               json={"username": "rosa", "password": PASSWORD}).raise_for_status()
    r = httpx.post(f"{node.url}/api/v1/tokens", json={"username": "rosa", "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def links(node: NodeProcess, handle: str, h: dict[str, str], kind: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{node.url}/api/v1/bodies/{handle}/{kind}", headers=h)
    r.raise_for_status()
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_communes_join_a_city_and_levels_follow_the_graph(tmp_path: Path,
                                                          databases: Databases) -> None:
    city = NodeProcess(tmp_path, "ciudad", databases.new("ciudad"), level="city")
    a = NodeProcess(tmp_path, "maizal", databases.new("maizal"))
    b = NodeProcess(tmp_path, "cumbe", databases.new("cumbe"))
    nodes = [city, a, b]
    try:
        for n in nodes:
            n.start()
        hc, ha, hb = facilitator(city), facilitator(a), facilitator(b)
        r = httpx.put(f"{city.url}/api/v1/bodies/ciudad/statute", headers=hc,
                      json={"rule": "majority", "admission": "open"})
        assert r.status_code == 200, r.text
        for node, h in ((a, ha), (b, hb)):
            r = httpx.post(f"{node.url}/api/v1/bodies/{node.handle}/federations", headers=h,
                           json={"federation": f"@ciudad@127.0.0.1:{city.port}"})
            assert r.status_code == 202, r.text
        wait_for(lambda: [x["state"] for x in links(a, "maizal", ha, "federations")]
                 == ["accepted"] and [x["state"] for x in links(b, "cumbe", hb, "federations")]
                 == ["accepted"], what="both communes admitted")
        members = httpx.get(f"{city.actor}/members").json()["orderedItems"]
        assert sorted(members) == sorted([a.actor, b.actor])
        doc = httpx.get(a.actor, headers={"Accept": "application/activity+json"}).json()
        assert doc["memberOf"] == [city.actor]

        def level(node: NodeProcess, here: str, affects: list[str]) -> Any:
            r = httpx.get(f"{node.url}/api/v1/deciding-level",
                          params={"here": here, "affects": affects})
            r.raise_for_status()
            return r.json()

        assert level(a, "maizal", [a.actor])["route"] == "local"
        up = level(a, "maizal", [a.actor, b.actor])
        assert (up["route"], up["target"]) == ("up", city.actor)
        down = level(city, "ciudad", [a.actor])
        assert (down["route"], down["target"]) == ("down", a.actor)
        assert level(city, "ciudad", [a.actor, b.actor])["route"] == "local"
    finally:
        for n in nodes:
            n.stop()


def test_join_waits_for_facilitators_unless_open(node: Settings, client: TestClient,
                                                 remote: FakeRemote) -> None:
    """A city with the default statute keeps a Join pending until a facilitator decides."""
    from node.governance import members

    ctx = ctx_of(client)
    commune = remote.actor("comuna")
    join = commune.activity("Join", ctx.urls.actor("maizal"))
    body, headers = commune.signed_post(f"{node.url}/actors/maizal/inbox", join)
    assert client.post(f"{node.url}/actors/maizal/inbox", content=body,
                       headers=headers).status_code == 202
    from tests.helpers import run_loops

    run_loops(node, lambda c: _link_states(c) == ["pending"], delivery=False)
    with Session(ctx.engine, expire_on_commit=False) as s:
        facil = members.create_member(ctx.tx(s), "facil", PASSWORD, "F")
        body_row = ctx.actors["maizal"]
        members.grant(ctx.tx(s), facil, body_row, "facilitator")
        outsider = members.create_member(ctx.tx(s), "nadie", PASSWORD, "N")
        s.commit()
        link = s.exec(select(FederationLink)).one()
        with pytest.raises(Exception) as e:
            membership.decide_member(ctx.tx(s, outsider), body_row, id_of(link), True)
        assert getattr(e.value, "status", None) == 403
        s.rollback()
        membership.decide_member(ctx.tx(s, facil), body_row, id_of(link), True)
        s.commit()
    assert _link_states(ctx) == ["accepted"]


def _link_states(ctx: NodeContext) -> list[str]:
    with Session(ctx.engine) as s:
        return [x.state for x in s.exec(select(FederationLink)).all()]


def test_only_the_federation_asked_can_accept(node: Settings, client: TestClient,
                                              remote: FakeRemote) -> None:
    ctx = ctx_of(client)
    city, mallory = remote.actor("ciudad"), remote.actor("mallory")
    with Session(ctx.engine) as s:
        join_id = membership.request_join(ctx.tx(s), ctx.actors["maizal"], city.uri,
                                          f"{city.uri}/inbox")
        s.commit()
    from tests.helpers import run_loops

    inbox = f"{node.url}/actors/maizal/inbox"
    fake = mallory.activity("Accept", {"id": join_id, "type": "Join",
                                       "actor": ctx.urls.actor("maizal"), "object": city.uri})
    body, headers = mallory.signed_post(inbox, fake)
    assert client.post(inbox, content=body, headers=headers).status_code == 202
    run_loops(node, lambda c: _done(c), delivery=False)
    assert _link_states(ctx) == ["pending"]
    real = city.activity("Accept", {"id": join_id, "type": "Join",
                                    "actor": ctx.urls.actor("maizal"), "object": city.uri})
    body, headers = city.signed_post(inbox, real)
    assert client.post(inbox, content=body, headers=headers).status_code == 202
    run_loops(node, lambda c: _link_states(c) == ["accepted"], delivery=False)


def _done(ctx: NodeContext) -> bool:
    from node.models import InboxItem

    with Session(ctx.engine) as s:
        return all(r.state != "queued" for r in s.exec(select(InboxItem)).all())
