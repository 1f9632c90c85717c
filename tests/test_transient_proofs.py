"""Transient is not permanent: an FEP-8b32 proof whose key cannot be fetched right now
(the author's server answers 503 or 429, or cannot be reached) is no verdict. The
inbox row is retried with backoff, and processed once the key can be fetched; only a
proof that is false, or a key that is gone (404/410), is refused."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.activitypub.directory import ActorDirectory, ActorFetchFailed, KeyUnavailable
from node.activitypub.fetch import Fetcher, make_client
from node.app import create_app
from node.config import Settings
from node.context import NodeContext
from node.economy import wire
from node.economy.catalogue import quantity, shared
from node.inbox.verify import Forbidden, verify_author_proof
from node.models import FederationLink, InboxItem, Intent, LocalActor, RemoteActor
from node.models.base import utcnow
from tests.conftest import NODE_URL, ctx_of
from tests.fakeremote import FakeRemote
from tests.helpers import id_of, run_loops

CITY = f"{NODE_URL}/actors/ciudad"
CONTEXT = f"{NODE_URL}/ns/comuna/v1"


class City:
    """A city with one member commune, `a`, on the fake remote; `b` is a commune below
    it whose offers `a` passes on (relayed: signed by `a`, proved by `b`). The relay's
    key and the author's are fetched separately, so only the author's can fail."""

    def __init__(self, settings: Settings, client: TestClient, remote: FakeRemote) -> None:
        self.settings, self.client, self.remote = settings, client, remote
        self.ctx = ctx_of(client)
        self.a, self.b = remote.actor("a"), remote.actor("b")
        remote.docs[self.b.path] = {**self.b.document(), "memberOf": [self.a.uri]}
        self.n = 0

    def offer(self, tamper: bool = False) -> str:
        b = self.b
        self.n += 1
        intent = wire.intent_object(wire.IntentDoc(
            id=f"{b.server.base}/objects/b-offer-{self.n}", body=b.uri, side="offer",
            agent=b.uri, kind=shared().namespace + "gas", unit="kilogram",
            quantity=quantity("10"), available=quantity("10"), summary="",
            location="", starts_at=None, ends_at=None, rise_after=0),
            "2026-11-28T00:00:00Z")
        signed = b.prove({"@context": wire.contexts(CONTEXT), **intent})
        if tamper:
            signed["publishes"]["resourceQuantity"]["hasNumericalValue"] = "9999"
        activity = b.prove({"@context": wire.contexts(CONTEXT),
                            "id": f"{b.server.base}/objects/b-act-{self.n}", "type": "Create",
                            "actor": b.uri, "object": signed, "to": [CITY]})
        body, headers = self.a.signed_post(f"{CITY}/inbox", activity)
        r = self.client.post(f"{CITY}/inbox", content=body, headers=headers)
        assert r.status_code == 202, r.text
        return str(intent["id"])

    def forget_author_key(self) -> None:
        """The author's key is not in the cache when the row is processed (expired, or
        seen only at the door by another process)."""
        self.ctx.directory.forget_host("127.0.0.1")
        with Session(self.ctx.engine) as s:
            s.execute(update(RemoteActor).where(col(RemoteActor.uri) == self.b.uri)
                      .values(expired=True))
            s.commit()


@pytest.fixture
def city(make_node: Callable[..., Settings], remote: FakeRemote) -> Iterator[City]:
    settings = make_node(handle="ciudad", level="city")
    with TestClient(create_app(settings, background=False), base_url=NODE_URL) as c:
        net = City(settings, c, remote)
        with Session(net.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
            s.add(FederationLink(body_id=id_of(body), remote_uri=net.a.uri, direction="has_member",
                                 state="accepted", remote_inbox=f"{net.a.uri}/inbox"))
            s.commit()
        yield net


def rows(engine: Engine) -> list[InboxItem]:
    with Session(engine) as s:
        return list(s.exec(select(InboxItem).order_by(col(InboxItem.id))).all())


def held(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return [i.uri for i in s.exec(select(Intent))]


def make_due(engine: Engine) -> None:
    """The backoff has passed, without waiting for it."""
    with Session(engine) as s:
        s.execute(update(InboxItem).where(col(InboxItem.state) == "queued")
                  .values(next_attempt_at=utcnow()))
        s.commit()


def processed(ctx: NodeContext) -> bool:
    return rows(ctx.engine)[0].state != "queued"


@pytest.mark.parametrize("status", [503, 429])
def test_proof_key_unreachable_is_retried_then_processed(city: City, status: int) -> None:
    offer = city.offer()
    city.forget_author_key()
    city.remote.get_failures[city.b.path] = status

    ctx = run_loops(city.settings, lambda c: rows(c.engine)[0].attempts >= 1, delivery=False)
    (row,) = rows(ctx.engine)
    assert row.state == "queued" and row.attempts == 1, (row.state, row.last_error)
    assert "KeyUnavailable" in row.last_error and str(status) in row.last_error
    assert row.next_attempt_at.replace(tzinfo=None) > utcnow().replace(tzinfo=None)
    assert held(ctx.engine) == []

    del city.remote.get_failures[city.b.path]
    make_due(ctx.engine)
    ctx = run_loops(city.settings, processed, delivery=False)
    assert rows(ctx.engine)[0].state == "done"
    assert held(ctx.engine) == [offer]


def test_false_proof_is_refused_not_retried(city: City) -> None:
    city.offer(tamper=True)
    city.forget_author_key()  # the key is fetched afresh, and the proof still does not hold
    ctx = run_loops(city.settings, processed, delivery=False)
    (row,) = rows(ctx.engine)
    assert row.state == "done" and row.attempts == 0, (row.state, row.last_error)
    assert held(ctx.engine) == []


def test_key_that_is_gone_is_refused_not_retried(city: City) -> None:
    city.offer()
    city.forget_author_key()
    city.remote.get_failures[city.b.path] = 410
    ctx = run_loops(city.settings, processed, delivery=False)
    (row,) = rows(ctx.engine)
    assert row.state == "done" and row.attempts == 0, (row.state, row.last_error)
    assert held(ctx.engine) == []


# --- the same rule, one layer down and at the inbox's door ---------------------------

def _directory(engine: Engine) -> ActorDirectory:
    return ActorDirectory(engine, Fetcher(make_client(True, timeout=5), 1_000_000, 3),
                          refetch_per_minute=30)


def test_verify_author_proof_tells_unavailable_from_refused(city: City) -> None:
    b = city.b  # never fetched yet: every check goes to its server
    doc = b.prove(b.activity())

    async def check(directory: ActorDirectory, document: dict[str, Any]) -> None:
        try:
            await verify_author_proof(document, b.uri, directory)
        finally:
            await directory.fetcher.client.aclose()

    for status in (500, 503, 429):
        city.remote.get_failures[b.path] = status
        with pytest.raises(KeyUnavailable):
            asyncio.run(check(_directory(city.ctx.engine), doc))
    for status in (404, 410):
        city.remote.get_failures[b.path] = status
        with pytest.raises(Forbidden):
            asyncio.run(check(_directory(city.ctx.engine), doc))
    del city.remote.get_failures[b.path]
    forged = {**doc, "type": "Delete"}
    with pytest.raises(Forbidden):
        asyncio.run(check(_directory(city.ctx.engine), forged))
    asyncio.run(check(_directory(city.ctx.engine), doc))  # and the true proof holds


def test_unreachable_host_is_unavailable_and_unknown_name_is_refused(city: City) -> None:
    async def key(uri: str) -> None:
        directory = _directory(city.ctx.engine)
        try:
            await directory.key_for(uri)
        finally:
            await directory.fetcher.client.aclose()

    port = city.remote.httpd.server_address[1]
    city.remote.close()  # nobody listens there now: connection refused
    with pytest.raises(KeyUnavailable):
        asyncio.run(key(f"http://127.0.0.1:{port}/users/a#main-key"))
    # A name DNS says does not exist is an answer (it used to escape as a bare OSError).
    with pytest.raises(ActorFetchFailed) as caught:
        asyncio.run(key("http://nobody.invalid/users/a#main-key"))
    assert not isinstance(caught.value, KeyUnavailable)


def test_relayed_activity_whose_proof_key_is_unreachable_is_503(client: TestClient,
                                                                remote: FakeRemote) -> None:
    alice, relay = remote.actor("alice"), remote.actor("relay")
    act = alice.prove(alice.activity())
    remote.get_failures[alice.path] = 503
    body, headers = relay.signed_post(f"{NODE_URL}/inbox", act)
    r = client.post("/inbox", content=body, headers=headers)
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "key-unavailable"
    assert rows(ctx_of(client).engine) == []
    del remote.get_failures[alice.path]
    body, headers = relay.signed_post(f"{NODE_URL}/inbox", act)
    assert client.post("/inbox", content=body, headers=headers).status_code == 202
