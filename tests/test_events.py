"""The event feed for custom clients: each kind of event appears when the real domain
action happens, only to the members of the body it concerns (and the people it
names); the cursor resumes without gaps or repeats; and the Server-Sent Events stream
of a real node process, read by a maintained SSE client (httpx-sse) and by the example
client of docs/api.md, delivers an event caused after
connecting and resumes from `Last-Event-ID`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from httpx_sse import EventSource, connect_sse
from sqlalchemy import update
from sqlmodel import Session, select

from node.api.v1.routes_events import RETRY_MS
from node.clock import SYSTEM, ManualClock
from node.config import Settings
from node.events import KINDS
from node.federations import mandates
from node.governance import clock, members
from node.models import Amendment, Event, EventPerson, LocalActor, Member, Proposal
from tests.apiclient import PASSWORD, Headers, people  # noqa: F401
from tests.conftest import ctx_of, hold_to_openapi
from tests.economy_net import NS, Net, add_links, city, cycle  # noqa: F401
from tests.federated_commune import Commune
from tests.helpers import id_of, stored
from tests.procnode import NodeProcess, wait_for

EVENTS = "/api/v1/events"


def feed(client: TestClient | httpx.Client, headers: Headers, **params: Any
         ) -> list[dict[str, Any]]:
    r = client.get(EVENTS, headers=headers, params={"limit": 200, **params})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def kinds_of(items: list[dict[str, Any]]) -> list[str]:
    return [i["kind"] for i in items]


def token_of(client: TestClient, member_id: int) -> Headers:
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        _, raw = members.create_token(ctx.tx(s, stored(s, Member, member_id)), "events")
        s.commit()
    return {"Authorization": f"Bearer {raw}"}


# --- votes and decisions, through the JSON API and the vote clock ------------------


def _proposal(client: TestClient, facil: Headers, title: str) -> int:
    r = client.post("/api/v1/bodies/maizal/proposals", headers=facil,
                    json={"title": title, "text": "Texto de la propuesta."})
    assert r.status_code == 201, r.text
    pid: int = r.json()["id"]
    assert client.post(f"/api/v1/proposals/{pid}/deliberation", headers=facil).status_code == 200
    return pid


def test_votes_closing_and_decisions_are_told_to_the_members_only(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    hold_to_openapi(client)
    facil, ana, otro = people["facil"], people["ana"], people["otro"]
    ctx = ctx_of(client)
    start = datetime.now(UTC)
    amended = _proposal(client, facil, "Huerto comunal")
    r = client.post(f"/api/v1/proposals/{amended}/amendments", headers=ana,
                    json={"title": "Huerto más grande", "text": "Dos hectáreas."})
    assert r.status_code == 201, r.text
    aid = r.json()["id"]
    r = client.post(f"/api/v1/proposals/{amended}/amendments/{aid}/vote", headers=facil,
                    json={"closes_at": (start + timedelta(days=2)).isoformat()})
    assert r.status_code == 200, r.text
    voted = _proposal(client, facil, "Acueducto")
    r = client.post(f"/api/v1/proposals/{voted}/vote", headers=facil,
                    json={"closes_at": (start + timedelta(days=3)).isoformat()})
    assert r.status_code == 200, r.text

    seen = feed(client, ana)
    assert kinds_of(seen) == ["amendment.vote_opened", "vote.opened"]
    opened = seen[1]
    assert opened["body"] == "maizal" and opened["subject"] == f"proposal:{voted}"
    assert opened["data"]["proposal"] == voted and opened["data"]["title"] == "Acueducto"
    assert "Acueducto" in opened["text"] and "Comuna El Maizal" in opened["text"]
    assert "http" not in opened["text"]
    # A member of another body only, and the body filter for a body one is not in.
    assert feed(client, otro) == []
    r = client.get(EVENTS, headers=otro, params={"body": "maizal"})
    assert r.status_code == 403 and r.headers["content-type"].startswith(
        "application/problem+json")
    assert feed(client, otro, body="consejo_agua") == []
    assert kinds_of(feed(client, ana, body="maizal")) == kinds_of(seen)

    # The vote clock tells of each vote once, when it is within a day of closing.
    ctx.clock = ManualClock(start + timedelta(days=1, hours=12))
    assert clock.announce_closing(ctx) == 1
    assert clock.announce_closing(ctx) == 0
    # The amendment's vote is over by then: nothing more is said of it.
    ctx.clock = ManualClock(start + timedelta(days=2, hours=12))
    assert clock.announce_closing(ctx) == 1
    assert clock.announce_closing(ctx) == 0
    # Closing checks the wall clock: the deadlines are moved instead of the time.
    with Session(ctx.engine) as s:
        past = datetime.now(UTC) - timedelta(minutes=1)
        s.execute(update(Proposal).values(closes_at=past))
        s.execute(update(Amendment).values(closes_at=past))
        s.commit()
    ctx.clock = SYSTEM
    assert clock.close_due_now(ctx)
    assert clock.announce_closing(ctx) == 0
    told = feed(client, ana)
    assert kinds_of(told) == ["amendment.vote_opened", "vote.opened", "amendment.vote_closing",
                              "vote.closing", "decision.recorded"]
    closing, decided = told[3], told[4]
    assert closing["data"]["proposal"] == voted and "cierra pronto" in closing["text"]
    assert decided["data"]["method"] == "online" and decided["data"]["outcome"] in (
        "adopted", "rejected", "no_quorum")
    assert feed(client, otro) == []


def test_the_cursor_resumes_without_gaps_or_repeats(
        client: TestClient, people: dict[str, Headers]) -> None:  # noqa: F811
    facil = people["facil"]
    for n in range(7):
        pid = _proposal(client, facil, f"Propuesta {n}")
        assert client.post(f"/api/v1/proposals/{pid}/vote", headers=facil,
                           json={}).status_code == 200
    everything = feed(client, facil)
    assert len(everything) == 7
    ids = [i["id"] for i in everything]
    assert ids == sorted(ids)
    paged: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        r = client.get(EVENTS, headers=facil, params=params)
        assert r.status_code == 200
        paged += [i["id"] for i in r.json()["items"]]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert paged == ids
    # Resuming from any item's own cursor gives exactly what came after it.
    for k, item in enumerate(everything):
        assert [i["id"] for i in feed(client, facil, cursor=item["cursor"])] == ids[k + 1:]
    # A later event is found from the last cursor, and nothing else.
    pid = _proposal(client, facil, "Una más")
    client.post(f"/api/v1/proposals/{pid}/vote", headers=facil, json={})
    (later,) = feed(client, facil, cursor=everything[-1]["cursor"])
    assert later["data"]["proposal"] == pid
    for bad in ("nada", "eyJhZnRlciI6ICJ4In0"):
        r = client.get(EVENTS, headers=facil, params={"cursor": bad})
        assert r.status_code == 400 and r.json()["code"] == "bad-cursor"
    assert client.get(EVENTS).status_code == 401
    r = client.get(f"{EVENTS}/stream", headers={**facil, "Last-Event-ID": "nada"})
    assert r.status_code == 400 and r.json()["code"] == "bad-cursor"
    assert client.get(f"{EVENTS}/stream").status_code == 401
    assert client.get(EVENTS, headers=facil, params={"body": "nadie"}).status_code == 404


def test_a_rolled_back_action_tells_nothing(client: TestClient,
                                            people: dict[str, Headers]) -> None:  # noqa: F811
    facil = people["facil"]
    pid = _proposal(client, facil, "Plaza")
    # The vote cannot open in the past: refused, and nothing is told.
    r = client.post(f"/api/v1/proposals/{pid}/vote", headers=facil,
                    json={"closes_at": "2001-01-01T00:00:00Z"})
    assert r.status_code == 422
    assert feed(client, facil) == []
    with Session(ctx_of(client).engine) as s:
        assert s.exec(select(Event)).all() == []


# --- mandates and a federation's decision -----------------------------------------


def test_mandates_and_the_federations_decision_are_told(mandated: Commune) -> None:
    c = mandated
    facil, ana = (token_of(c.client, c.ids[n]) for n in ("facil", "ana"))
    with Session(c.ctx.engine) as s:
        outsider = members.create_member(c.ctx.tx(s), "ajeno", "contraseña-larga", "Ajeno")
        s.commit()
        outsider_id = id_of(outsider)
    stranger = token_of(c.client, outsider_id)
    given = feed(c.client, ana)
    assert kinds_of(given) == ["decision.recorded", "mandate.given"]
    assert given[0]["data"]["method"] == "assembly"
    mandate = given[1]
    assert mandate["subject"] == f"mandate:{c.mandate_id}"
    assert mandate["data"]["position"] == "approve"
    assert sorted(mandate["data"]["spokespersons"]) == sorted([c.ids["facil"], c.ids["ana"]])
    assert "Camino" in mandate["text"] and "http" not in mandate["text"]
    with Session(c.ctx.engine) as s:
        named = s.exec(select(EventPerson.member_id).where(
            EventPerson.event_id == mandate["id"])).all()
        assert sorted(named) == sorted([c.ids["facil"], c.ids["ana"]])
        mandates.recall(c.ctx.tx(s, stored(s, Member, c.ids["facil"])), c.mandate_id,
                        "la asamblea cambió de opinión")
        s.commit()
    c.send(c.f, c.decision(c.f))
    c.settle()
    told = feed(c.client, facil)
    assert kinds_of(told) == ["decision.recorded", "mandate.given", "mandate.recalled",
                              "decision.arrived"]
    arrived = told[3]
    assert arrived["data"]["outcome"] == "adopted" and arrived["data"]["federation"] == c.f.uri
    assert "aprobada" in arrived["text"]
    assert feed(c.client, stranger) == []
    # A spokesperson named by a mandate sees it even once out of the body.
    with Session(c.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        members.revoke(c.ctx.tx(s), stored(s, Member, c.ids["ana"]), body, "member")
        s.commit()
    assert kinds_of(feed(c.client, ana)) == ["mandate.given", "mandate.recalled"]


def test_a_federation_is_told_of_its_members_mandates_and_its_decision(
        make_node: Any, remote: Any) -> None:
    from node.app import create_app
    from node.federations import objects
    from node.governance import proposals
    from tests.federated_commune import stamp
    from tests.mandate_city import City

    settings: Settings = make_node(handle="ciudad", level="city")
    with TestClient(create_app(settings, background=False), base_url="http://node.test") as tc:
        c = City(settings, tc, remote)
        c.matter = c.uid(c.a)
        c.create(c.a, objects.proposal_object(c.matter, c.a.uri, "Acueducto", "Texto.",
                                              [c.a.uri, c.b.uri], 1, stamp()))
        c.settle()
        with Session(c.ctx.engine) as s:
            proposals.open_vote(c.ctx.tx(s, stored(s, Member, c.facil_id or 0)),
                                stored(s, Proposal, c.row().id),
                                datetime.now(UTC) + timedelta(hours=1))
            s.commit()
        ma = c.mandate(c.a, "approve")
        c.mandate(c.b, "reject")
        c.settle()
        c.send(c.a, {"@context": "https://www.w3.org/ns/activitystreams",
                     "id": f"{c.a.server.base}/activities/recall-1", "type": "Delete",
                     "actor": c.a.uri, "object": ma, "to": [c.a.uri]})
        c.settle()
        with Session(c.ctx.engine) as s:
            s.execute(update(Proposal).values(closes_at=datetime.now(UTC) - timedelta(minutes=1)))
            s.commit()
        assert clock.close_due_now(c.ctx)
        told = feed(tc, token_of(tc, c.facil_id or 0))
    assert kinds_of(told) == ["vote.opened", "mandate.given", "mandate.given",
                              "mandate.recalled", "decision.recorded"]
    given, recalled, decided = told[1], told[3], told[4]
    assert given["data"]["member_body"] == c.a.uri and given["data"]["position"] == "approve"
    assert given["data"]["proposal"] == decided["data"]["proposal"]
    assert recalled["data"]["member_body"] == c.a.uri
    assert decided["data"]["method"] == "mandates"
    assert all("http" not in t["text"] for t in told)


# --- exchanges ---------------------------------------------------------------------


def test_exchanges_proposed_are_told(client: TestClient,
                                     people: dict[str, Headers]) -> None:  # noqa: F811
    """Inside one commune: the match found at once when a need meets an offer."""
    facil, otro = people["facil"], people["otro"]
    b = "/api/v1/bodies/maizal"
    for slug, worker in (("gas", "ana"), ("finca", "beto")):
        r = client.post(f"{b}/enterprises", headers=facil,
                        json={"slug": slug, "name": f"Empresa {slug}", "sector": "energía"})
        assert r.status_code == 201, r.text
        r = client.post(f"{b}/enterprises/{slug}/workers", headers=facil,
                        json={"username": worker, "council": True})
        assert r.status_code == 200, r.text
    for who, slug, side, qty in (("ana", "gas", "offer", "10"), ("beto", "finca", "need", "4")):
        r = client.post(f"{b}/intents", headers=people[who], json={
            "side": side, "kind": NS + "gas", "quantity": qty, "unit": "kilogram",
            "enterprise": slug, "rise_after": 3600})
        assert r.status_code == 201, r.text
    (told,) = feed(client, facil)
    assert told["kind"] == "exchange.proposed" and told["data"]["mode"] == "allocation"
    assert told["data"]["asked"] and "4 kilogram" in told["data"]["asked"][0]
    assert feed(client, otro) == []


def test_a_federation_brokering_is_told_to_its_members(city: Net) -> None:  # noqa: F811
    ex = cycle(city)
    with Session(city.ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "ciudad")).one()
        facil = members.create_member(city.ctx.tx(s), "facil", "contraseña-larga", "F")
        members.grant(city.ctx.tx(s), facil, body, "facilitator")
        s.commit()
        facil_id = id_of(facil)
    (told,) = feed(city.client, token_of(city.client, facil_id))
    assert told["kind"] == "exchange.proposed" and told["data"]["uri"] == ex.uri
    assert told["data"]["mode"] == "barter" and len(told["data"]["parties"]) == 2


def test_a_commune_is_told_of_an_exchange_a_federation_proposes(
        make_node: Any, remote: Any) -> None:
    from fastapi.testclient import TestClient as Client

    from node.app import create_app
    from node.economy import intents, wire
    from node.economy.catalogue import quantity

    settings: Settings = make_node(handle="maizal", level="commune")
    with Client(create_app(settings, background=False), base_url="http://node.test") as client:
        net = Net(settings, client, remote, "maizal")
        add_links(net.ctx, "maizal", [net.a.uri], "member_of")
        with Session(net.ctx.engine) as s:
            body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
            facil = members.create_member(net.ctx.tx(s), "facil", "contraseña-larga", "F")
            members.grant(net.ctx.tx(s), facil, body, "facilitator")
            mine = intents.publish(net.ctx.tx(s, facil), body, "offer", NS + "gas",
                                   quantity("10"), "kilogram")
            s.commit()
            facil_id, mine_uri = id_of(facil), mine.uri
        fed = net.a  # plays the city
        ex_uri = net.uid(fed, "ex")
        draft = wire.agreement_object(ex_uri, fed.uri, [
            wire.CommitmentDoc(f"{ex_uri}#c0", net.me, fed.uri, mine_uri,
                               f"{fed.server.base}/objects/need", NS + "gas", "kilogram",
                               quantity("5"), None, None)], "2026-11-28T00:00:00Z")
        net.send(fed, net.activity(fed, "Offer", draft))
        net.settle()
        (told,) = feed(client, token_of(client, facil_id))
        assert told["kind"] == "exchange.proposed" and told["data"]["uri"] == ex_uri
        assert told["data"]["proposer"] == fed.uri and told["data"]["asked"]


def test_every_kind_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "api.md").read_text("utf-8")
    for kind in KINDS:
        assert f"`{kind}`" in doc, kind


def test_a_quiet_stream_keeps_alive_and_ends_with_its_token(
        client: TestClient, people: dict[str, Headers],  # noqa: F811
        monkeypatch: Any) -> None:
    from node.api.v1 import routes_events

    monkeypatch.setattr(routes_events, "HEARTBEAT_SECONDS", 0.3)
    monkeypatch.setattr(routes_events, "POLL_SECONDS", 0.1)
    token = people["facil"]["Authorization"].split(" ", 1)[1]
    ctx = ctx_of(client)

    async def read() -> list[str]:
        stream = routes_events._stream(ctx, token, None, 0)
        out = [await anext(stream) for _ in range(2)]
        r = client.get("/api/v1/tokens", headers=people["facil"])
        for t in r.json()["items"]:
            client.delete(f"/api/v1/tokens/{t['id']}", headers=people["facil"])
        out += [chunk async for chunk in stream]  # ends once the token is revoked
        return out

    said = asyncio.run(asyncio.wait_for(read(), 10))
    assert said[0].startswith("retry: ") and said[1] == ": keep-alive\n\n"
    assert all(not chunk.startswith("id:") for chunk in said)


# --- the stream, from a real node process -------------------------------------------


def greeting_then_events(source: EventSource) -> Iterator[dict[str, Any]]:
    """Read with httpx-sse, a maintained SSE client: first the greeting (only a
    `retry:` field, so no data), then each event as {id, data}."""
    events = source.iter_sse()
    first = next(events)
    assert (first.retry, first.data) == (RETRY_MS, ""), first
    for event in events:
        yield {"id": event.id, "data": event.json()}


def docs_client() -> dict[str, Any]:
    """The example client of docs/api.md, exactly as printed there (its `events`
    function, without running its `__main__` loop)."""
    text = (Path(__file__).parent.parent / "docs" / "api.md").read_text(encoding="utf-8")
    found = re.search(r"```python\n((?:(?!```).)*?connect_sse.*?)```", text, re.S)
    assert found, "docs/api.md has no example SSE client"
    namespace: dict[str, Any] = {"__name__": "docs_example"}
    # Executed, not copied: a change to the printed client must pass this test.
    exec(compile(found.group(1), "docs/api.md", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_stream_of_a_real_node_tells_what_happens_and_resumes(
        tmp_path: Path, databases: Any) -> None:
    node = NodeProcess(tmp_path, "maizal", databases.new("maizal"))
    node.start()
    try:
        token = node.invitation()
        with httpx.Client(base_url=node.url, timeout=20) as api:
            r = api.post(f"/api/v1/invitations/{token}/accept", json={
                "username": "rosa", "password": PASSWORD, "display_name": "Rosa"})
            assert r.status_code == 201, r.text
            r = api.post("/api/v1/tokens", json={"username": "rosa", "password": PASSWORD})
            auth = {"Authorization": f"Bearer {r.json()['token']}"}

            def proposal(title: str) -> int:
                r = api.post("/api/v1/bodies/maizal/proposals", headers=auth,
                             json={"title": title, "text": "Texto."})
                pid: int = r.json()["id"]
                api.post(f"/api/v1/proposals/{pid}/deliberation", headers=auth)
                return pid

            first, second = proposal("Primera"), proposal("Segunda")
            with connect_sse(api, "GET", "/api/v1/events/stream", headers=dict(auth)) as source:
                assert source.response.status_code == 200
                assert source.response.headers["content-type"].startswith("text/event-stream")
                events = greeting_then_events(source)
                # Connected (the start is fixed before the answer): only new events come.
                r = api.post(f"/api/v1/proposals/{first}/vote", headers=auth, json={})
                assert r.status_code == 200, r.text
                got = next(events)
            assert got["data"]["kind"] == "vote.opened"
            assert got["data"]["data"]["proposal"] == first and got["id"] == got["data"]["cursor"]
            # While nobody listens, the second vote opens; reconnecting where we left off
            # brings it, and only it.
            api.post(f"/api/v1/proposals/{second}/vote", headers=auth, json={})
            with connect_sse(api, "GET", "/api/v1/events/stream",
                             headers={**auth, "Last-Event-ID": got["id"]}) as source:
                resumed = next(greeting_then_events(source))
            assert resumed["data"]["data"]["proposal"] == second
            assert resumed["data"]["id"] == got["data"]["id"] + 1
            # The feed agrees with the stream.
            assert [i["data"]["proposal"] for i in feed(api, auth)] == [first, second]
            _the_documented_client_reads_the_stream(node.url, auth, got["id"], second)
            _one_token_holds_a_few_streams(node.url, auth)
    finally:
        node.stop()


def _the_documented_client_reads_the_stream(url: str, auth: dict[str, str], after: str,
                                           expected: int) -> None:
    """docs/api.md's client resumes after the id it is given, and stops on a refusal
    instead of knocking for ever."""
    client = docs_client()
    client["NODE"], client["TOKEN"] = url, auth["Authorization"].removeprefix("Bearer ")
    events = client["events"](last_id=after)
    try:
        event = next(events)
    finally:
        events.close()
    assert event["kind"] == "vote.opened" and event["data"]["proposal"] == expected
    assert event["text"]  # what it would hand to an SMS gateway
    client["TOKEN"] = "not-a-token"
    try:
        next(client["events"]())
    except httpx.HTTPStatusError as refused:
        assert refused.response.status_code == 401
    else:
        raise AssertionError("the documented client went on after a 401")


def _one_token_holds_a_few_streams(url: str, auth: dict[str, str]) -> None:
    """A client reconnecting without closing cannot pin the node: past the limit a
    token gets 429 with Retry-After, and a stream closed makes room again."""
    from contextlib import ExitStack

    from node.api.v1.routes_events import MAX_STREAMS_PER_TOKEN

    with ExitStack() as held, httpx.Client(base_url=url, timeout=20) as other:
        clients = [held.enter_context(httpx.Client(base_url=url, timeout=20))
                   for _ in range(MAX_STREAMS_PER_TOKEN)]
        streams = [held.enter_context(c.stream("GET", "/api/v1/events/stream", headers=auth))
                   for c in clients]
        assert all(s.status_code == 200 for s in streams)
        # Each is being served, not only accepted. The readers are kept: a line
        # iterator dropped closes its response, and the node would see a client gone.
        readers = [EventSource(s).iter_sse() for s in streams]
        assert all(next(r).retry == RETRY_MS for r in readers)
        refused = other.get("/api/v1/events/stream", headers=auth)
        assert refused.status_code == 429 and refused.json()["code"] == "too-many-streams"
        assert refused.headers["retry-after"] == "3"
        assert len(readers) == MAX_STREAMS_PER_TOKEN
    # All closed: the node noticed, and a new stream is served.
    def reopened() -> bool:
        with httpx.Client(base_url=url, timeout=20) as again, \
                again.stream("GET", "/api/v1/events/stream", headers=auth) as s:
            return s.status_code == 200
    wait_for(reopened, 10, "a stream served again once the others closed")
