"""An economy node in-process facing made-up remote bodies (Net), the `city` fixture, and NS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.economy import wire
from node.economy.catalogue import quantity, shared
from node.economy.clock import one_pass
from node.models import (
    Commitment,
    EconomicEvent,
    Exchange,
    FederationLink,
    Intent,
    LocalActor,
)
from tests.conftest import ctx_of
from tests.fakeremote import FakeRemote, RemoteActor
from tests.helpers import inbox_settled, run_loops

NS = shared().namespace
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Net:
    """A node in-process and made-up remote actors a, b, x that send its inbox proven
    economic documents; what the node then holds, and what it posts to each."""

    def __init__(
            self, settings: Settings, client: TestClient, remote: FakeRemote, handle: str) -> None:
        self.settings, self.client, self.remote = settings, client, remote
        self.ctx = ctx_of(client)
        self.me = f"http://node.test/actors/{handle}"
        self.a, self.b, self.x = remote.actor("a"), remote.actor("b"), remote.actor("x")
        self.n = 0

    def uid(self, who: RemoteActor, what: str = "o") -> str:
        self.n += 1
        return f"{who.server.base}/objects/{who.name}-{what}-{self.n}"

    def send(self, who: RemoteActor, activity: dict[str, Any]) -> None:
        body, headers = who.signed_post(f"{self.me}/inbox", activity)
        r = self.client.post(f"{self.me}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text

    def activity(self, who: RemoteActor, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        doc = {"@context": wire.contexts("http://node.test/ns/comuna/v1"),
               "id": self.uid(who, "act"), "type": kind, "actor": who.uri, "object": obj,
               "to": [self.me], **extra}
        return who.prove(doc)

    def intent(self, who: RemoteActor, side: str, kind: str, qty: str, unit: str = "kilogram",
               tamper: bool = False) -> str:
        doc = wire.intent_object(wire.IntentDoc(
            id=self.uid(who), body=who.uri, side=side, agent=who.uri, kind=NS + kind,
            unit=unit, quantity=quantity(qty), available=quantity(qty), summary="",
            location="", starts_at=None, ends_at=None, rise_after=0), "2026-11-28T00:00:00Z")
        signed = who.prove({"@context": wire.contexts("http://node.test/ns/comuna/v1"), **doc})
        if tamper:
            signed["publishes"]["resourceQuantity"]["hasNumericalValue"] = "9999"
        self.send(who, self.activity(who, "Create", signed))
        uri: str = doc["id"]
        return uri

    def settle(self) -> None:
        inbox_settled(self.settings)

    def state(self) -> tuple[Any, ...]:
        with Session(self.ctx.engine) as s:
            return (sorted((i.uri, i.available, i.state) for i in s.exec(select(Intent))),
                    sorted((e.uri, e.state, e.answers) for e in s.exec(select(Exchange))),
                    sorted((c.uri, c.state, c.delivered) for c in s.exec(select(Commitment))),
                    sorted((e.uri, e.state) for e in s.exec(select(EconomicEvent))))

    def posts_to(self, who: RemoteActor, kind: str) -> list[dict[str, Any]]:
        out = []
        for post in self.remote.posts:
            doc = json.loads(post["body"])
            if doc.get("type") == kind and post["path"] == f"/users/{who.name}/inbox":
                out.append(doc)
        return out


def add_links(ctx: NodeContext, handle: str, uris: list[str], direction: str) -> None:
    """Accepted federation links of the local body `handle` with each of `uris`."""
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == handle)).one()
        assert body.id is not None
        for uri in uris:
            s.add(FederationLink(body_id=body.id, remote_uri=uri, direction=direction,
                                 state="accepted", remote_inbox=f"{uri}/inbox"))
        s.commit()


@pytest.fixture
def city(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[Net]:
    settings = make_node(handle="ciudad", level="city")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as c:
        net = Net(settings, c, remote, "ciudad")
        add_links(net.ctx, "ciudad", [net.a.uri, net.b.uri], "has_member")
        yield net


def cycle(city: Net) -> Exchange:
    """a and b each offer what the other needs: the city matches them in one exchange."""
    city.intent(city.a, "offer", "gas", "10")
    city.intent(city.a, "need", "papaya", "5")
    city.intent(city.b, "offer", "papaya", "5")
    city.intent(city.b, "need", "gas", "10")
    city.settle()
    one_pass(city.ctx, EPOCH)
    run_loops(city.settings, lambda ctx: len(city.posts_to(city.b, "Offer")) == 1)
    with Session(city.ctx.engine) as s:
        (ex,) = s.exec(select(Exchange)).all()
        return ex
