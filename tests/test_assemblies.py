"""Assemblies called ahead: who may call, change and cancel one; the Event its
followers receive (with what Mobilizon and Mastodon read); the body's iCalendar feed
(parsed by the `icalendar` library and checked against RFC 5545 by hand); and the
link from the Event to the meeting's record once the assembly is recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import icalendar
import pytest
from sqlmodel import Session, func, select
from starlette.testclient import TestClient

from node.activitypub.proofs import verify_object
from node.config import Settings
from node.errors import Problem
from node.governance import assemblies, decisions, members, proposals
from node.governance.assemblies import Plan
from node.models import Assembly, Delivery, LocalActor, Meeting, OutboxItem
from node.models.base import utcnow
from tests import rfc5545
from tests.conftest import NODE_URL, hold_to_openapi
from tests.fakeremote import FakeRemote
from tests.govfixtures import Commune, build_commune
from tests.helpers import ed25519_key, id_of, refused, run_loops, stored
from tests.inboxsend import processed, send
from tests.pageforms import PASSWORD, csrf, login

ACTOR = f"{NODE_URL}/actors/maizal"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


@pytest.fixture(autouse=True)
def contract(client: TestClient) -> Iterator[None]:
    """Every JSON API answer here must match the OpenAPI document."""
    checked = hold_to_openapi(client)
    yield
    assert all(" 5" not in c for c in checked)


def _token(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _proposal(c: Commune, title: str = "Agua para el barrio", state: str = "deliberation",
              body: LocalActor | None = None, author: str = "m0") -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people[author]), body or c.assembly, title,
                             "Reparar la bomba.", own_uri=ACTOR)
        if state != "draft":
            proposals.open_deliberation(c.ctx.tx(s, c.people[author]), p)
        s.commit()
        return id_of(p)


def _activities(c: Commune) -> list[dict[str, Any]]:
    with c.session() as s:
        return [json.loads(i.body) for i in s.exec(select(OutboxItem)
                                                    .order_by(OutboxItem.id)).all()]  # type: ignore[arg-type]


def _events(c: Commune) -> list[dict[str, Any]]:
    return [a for a in _activities(c) if a["object"].get("type") == "Event"]


def _soon(days: float = 6) -> str:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0).isoformat()


def _call(client: TestClient, h: dict[str, str], **fields: Any) -> Any:
    body = {"starts_at": _soon(), "place": "Casa comunal", **fields}
    return client.post("/api/v1/bodies/maizal/assemblies", headers=h, json=body)


def test_a_facilitator_calls_changes_and_cancels_an_assembly(node: Settings,
                                                             client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    facil = _token(client, "facil")
    r = _call(client, facil, agenda=[pid], address="Calle 3, sector La Ceiba",
              ends_at=_soon(6.1))
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["state"] == "scheduled" and a["sequence"] == 0
    assert a["title"] == "Asamblea de Comuna Maizal" or a["title"].startswith("Asamblea de")
    assert a["agenda"] == [{"proposal": pid, "title": "Agua para el barrio"}]
    assert a["actions"] == ["change", "cancel"]  # not yet due: nothing to record
    [create] = _events(c)
    assert create["type"] == "Create" and create["object"]["id"] == a["event"]

    r = client.patch(f"/api/v1/bodies/maizal/assemblies/{a['id']}", headers=facil,
                     json={"place": "Escuela Bolivariana", "agenda": []})
    assert r.status_code == 200, r.text
    assert r.json()["place"] == "Escuela Bolivariana" and r.json()["sequence"] == 1
    assert r.json()["agenda"] == [] and r.json()["ends_at"] == a["ends_at"]
    update = _events(c)[-1]
    assert update["type"] == "Update" and update["object"]["location"]["name"] == \
        "Escuela Bolivariana"

    listed = client.get("/api/v1/bodies/maizal/assemblies").json()["items"]
    assert [x["id"] for x in listed] == [a["id"]] and listed[0]["actions"] == []

    r = client.post(f"/api/v1/bodies/maizal/assemblies/{a['id']}/cancel", headers=facil,
                    json={"note": "Lluvias fuertes."})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert r.json()["sequence"] == 2 and r.json()["actions"] == []
    cancelled = _events(c)[-1]["object"]
    assert cancelled["eventStatus"] == "EventCancelled" and cancelled["status"] == "CANCELLED"
    assert cancelled["ical:status"] == "CANCELLED" and "Lluvias fuertes." in cancelled["content"]
    # A cancelled assembly is over: it cannot be changed or cancelled again.
    r = client.patch(f"/api/v1/bodies/maizal/assemblies/{a['id']}", headers=facil,
                     json={"place": "Otra"})
    assert r.status_code == 409 and r.json()["code"] == "bad-state"
    assert client.get("/api/v1/bodies/maizal/assemblies").json()["items"] == []


def test_a_member_who_is_not_a_facilitator_is_refused_and_nothing_changes(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    member = _token(client, "m0")
    r = _call(client, member)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert _call(client, {}).status_code == 401
    with c.session() as s:
        assert s.exec(select(func.count()).select_from(Assembly)).one() == 0
    assert _events(c) == []

    a = _call(client, _token(client, "facil")).json()
    before = _activities(c)
    r = client.patch(f"/api/v1/bodies/maizal/assemblies/{a['id']}", headers=member,
                     json={"place": "Mi casa"})
    assert r.status_code == 403
    r = client.post(f"/api/v1/bodies/maizal/assemblies/{a['id']}/cancel", headers=member,
                    json={})
    assert r.status_code == 403
    with c.session() as s:
        row = stored(s, Assembly, a["id"])
        assert (row.state, row.place, row.sequence) == ("scheduled", "Casa comunal", 0)
    assert _activities(c) == before

    # The pages offer a member none of it, and refuse it if sent anyway.
    login(client, "m0")
    page = client.get("/b/maizal")
    assert "Convocar una asamblea" not in page.text and "Casa comunal" in page.text
    detail = client.get(f"/b/maizal/assemblies/{a['id']}")
    assert "Cancelar la asamblea" not in detail.text and "Cambiar la convocatoria" not in \
        detail.text
    assert client.get("/b/maizal/assemblies/new").status_code == 403
    r = client.post(f"/b/maizal/assemblies/{a['id']}/cancel", data={"csrf": csrf(page.text)})
    assert refused(r, 403)
    r = client.post("/b/maizal/assemblies", data={"csrf": csrf(page.text), "place": "X",
                                                  "starts_at": "01/01/2030 6:00 p. m."})
    assert refused(r, 403)
    with c.session() as s:
        assert s.exec(select(func.count()).select_from(Assembly)).one() == 1
        assert stored(s, Assembly, a["id"]).state == "scheduled"


def test_bad_calls_are_refused_with_their_reason(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    draft = _proposal(c, "Borrador", state="draft")
    elsewhere = _proposal(c, "Del consejo", body=c.council, author="other")
    facil = _token(client, "facil")
    past = (utcnow() - timedelta(hours=2)).isoformat()
    for fields, code in (({"starts_at": past}, "past-assembly"),
                         ({"ends_at": _soon(5)}, "bad-assembly-end"),
                         ({"ends_at": _soon(8)}, "bad-assembly-end"),
                         ({"agenda": [draft]}, "bad-agenda"),
                         ({"agenda": [elsewhere]}, "bad-agenda"),
                         ({"agenda": [999_999]}, "bad-agenda"),
                         ({"agenda": [2**40]}, "bad-agenda"),
                         ({"starts_at": "9999-12-31T23:59:59+14:00"}, "far-assembly"),
                         ({"starts_at": _soon(4 * 366)}, "far-assembly"),
                         ({"ends_at": "0001-01-01T00:00:00-12:00"}, "far-assembly"),
                         ({"place": "   "}, "missing-place")):
        r = _call(client, facil, **fields)
        assert r.status_code == 422 and r.json()["code"] == code, (fields, r.text)
    with c.session() as s:
        assert s.exec(select(func.count()).select_from(Assembly)).one() == 0
    assert _events(c) == []
    # An id past the database's integers is refused before the database (node/api/ids.py).
    assert client.get(f"/api/v1/bodies/maizal/assemblies/{2**40}").status_code == 422
    assert client.get(f"/b/maizal/assemblies/{2**40}").status_code == 422
    assert client.get("/api/v1/bodies/maizal/assemblies/99999").status_code == 404


# --- the calendar feed --------------------------------------------------------------

def _feed(client: TestClient) -> tuple[bytes, icalendar.Calendar]:
    r = client.get("/b/maizal/calendar.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(r.content)
    assert isinstance(cal, icalendar.Calendar)
    return r.content, cal


def _vevents(cal: icalendar.Calendar) -> dict[str, icalendar.cal.Component]:
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_the_calendar_feed_is_valid_icalendar(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c, "Agua; luz, y gas")
    facil = _token(client, "facil")
    first = _call(client, facil, agenda=[pid], title="Asamblea ordinaria de diciembre",
                  ends_at=_soon(6.1), description="Traer " + "propuestas " * 20).json()
    second = _call(client, facil, starts_at=_soon(13)).json()
    raw, cal = _feed(client)
    assert rfc5545.problems(raw) == []
    # The library reads back what it wrote, property for property.
    assert icalendar.Calendar.from_ical(cal.to_ical()).to_ical() == cal.to_ical()
    events = _vevents(cal)
    assert set(events) == {f"assembly-{first['id']}@node.test",
                           f"assembly-{second['id']}@node.test"}
    e = events[f"assembly-{first['id']}@node.test"]
    assert e["SUMMARY"] == "Asamblea ordinaria de diciembre" and e["STATUS"] == "CONFIRMED"
    assert e["SEQUENCE"] == 0 and "Agua; luz, y gas" in str(e["DESCRIPTION"])
    start = e.decoded("DTSTART")
    assert str(start.tzinfo) == "America/Caracas"
    assert start == datetime.fromisoformat(first["starts_at"])
    assert e.decoded("DTEND") == datetime.fromisoformat(first["ends_at"])
    assert [str(z["TZID"]) for z in cal.walk("VTIMEZONE")] == ["America/Caracas"]
    assert e["URL"] == f"{NODE_URL}/b/maizal/assemblies/{first['id']}"
    assert "DTEND" not in events[f"assembly-{second['id']}@node.test"]

    # The same feed twice is the same bytes: a calendar polling it can ask for a 304.
    again = client.get("/b/maizal/calendar.ics")
    assert again.content == raw
    assert client.get("/b/maizal/calendar.ics",
                      headers={"If-None-Match": again.headers["etag"]}).status_code == 304

    # A change keeps the UID and raises SEQUENCE; a cancellation says CANCELLED.
    r = client.patch(f"/api/v1/bodies/maizal/assemblies/{first['id']}", headers=facil,
                     json={"starts_at": _soon(7)})
    assert r.status_code == 422 and r.json()["code"] == "bad-assembly-end"  # ends before
    r = client.patch(f"/api/v1/bodies/maizal/assemblies/{first['id']}", headers=facil,
                     json={"starts_at": _soon(7), "ends_at": None})
    assert r.status_code == 200 and r.json()["ends_at"] is None
    r = client.post(f"/api/v1/bodies/maizal/assemblies/{second['id']}/cancel", headers=facil,
                    json={})
    assert r.status_code == 200
    raw, cal = _feed(client)
    assert rfc5545.problems(raw) == []
    events = _vevents(cal)
    e = events[f"assembly-{first['id']}@node.test"]
    assert e["SEQUENCE"] == 1 and e["STATUS"] == "CONFIRMED"
    cancelled = events[f"assembly-{second['id']}@node.test"]
    assert cancelled["STATUS"] == "CANCELLED" and cancelled["SEQUENCE"] == 1


def test_the_feed_of_a_private_body_is_not_served(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        council = stored(s, LocalActor, c.council.id)
        council.public = False
        s.add(council)
        s.commit()
    assert client.get("/b/consejo_salud/calendar.ics").status_code == 404
    assert client.get("/b/nadie/calendar.ics").status_code == 404


def test_our_own_checker_catches_what_rfc_5545_forbids() -> None:
    good = (b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//ES\r\nBEGIN:VEVENT\r\n"
            b"UID:a@b\r\nDTSTAMP:20261129T000000Z\r\nDTSTART:20261205T220000Z\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert rfc5545.problems(good) == []
    assert rfc5545.problems(good.replace(b"UID:a@b\r\n", b""))
    assert rfc5545.problems(good.replace(b"DTSTAMP:20261129T000000Z",
                                          b"DTSTAMP:20261129T000000"))
    assert rfc5545.problems(good.replace(b"DTSTART:20261205T220000Z",
                                          b"DTSTART;TZID=America/Caracas:20261205T180000"))
    assert rfc5545.problems(good.replace(b"\r\n", b"\n"))
    assert rfc5545.problems(good.replace(b"END:VEVENT\r\n", b""))
    assert rfc5545.problems(good.replace(b"UID:a@b", b"UID:" + b"a" * 80))


# --- the Event, as followers receive it -----------------------------------------------

def _follow(node: Settings, client: TestClient, remote: FakeRemote) -> Any:
    bob = remote.actor("bob")
    send(client, bob, bob.activity("Follow", ACTOR))
    run_loops(node, lambda ctx: processed(ctx) and all(
        d.state == "delivered" for d in _deliveries(ctx)) and bool(_deliveries(ctx)))
    return bob


def _deliveries(ctx: Any) -> list[Delivery]:
    with Session(ctx.engine) as s:
        return list(s.exec(select(Delivery)).all())


def test_followers_receive_an_event_with_what_mobilizon_reads(
        node: Settings, client: TestClient, remote: FakeRemote) -> None:
    c = build_commune(node)
    bob = _follow(node, client, remote)
    pid = _proposal(c)
    starts = (utcnow() + timedelta(days=6)).replace(microsecond=0)
    with c.session() as s:
        a = assemblies.schedule(c.ctx.tx(s, c.people["facil"]), stored(s, LocalActor,
                                c.assembly.id),
                                Plan(starts_at=starts, place="Casa comunal",
                                     address="Calle 3, sector La Ceiba", agenda=(pid,)),
                                "America/Caracas")
        s.commit()
        aid = id_of(a)
    run_loops(node, lambda ctx: all(d.state == "delivered" for d in _deliveries(ctx)))
    [delivered] = [json.loads(p["body"]) for p in remote.posts
                   if json.loads(p["body"]).get("type") == "Create"]
    assert remote.posts[-1]["path"] == "/inbox"  # bob's server's shared inbox
    ev = delivered["object"]
    # FEP-8a8e's required fields, and what Mobilizon's converter reads.
    assert ev["type"] == "Event" and ev["id"] == f"{NODE_URL}/objects/assembly-{aid}"
    assert ev["name"] == "Asamblea de " + c.assembly.name
    assert datetime.fromisoformat(ev["startTime"]) == starts
    assert ev["startTime"].endswith("-04:00")  # the wall time in Caracas, with its offset
    assert datetime.fromisoformat(ev["endTime"]) > datetime.fromisoformat(ev["startTime"])
    assert ev["displayEndTime"] is False  # no closing time was given
    assert ev["timezone"] == "America/Caracas"
    assert ev["location"] == {"type": "Place", "name": "Casa comunal",
                              "address": {"type": "PostalAddress",
                                          "streetAddress": "Calle 3, sector La Ceiba"}}
    assert ev["attributedTo"] == ACTOR and delivered["actor"] == ACTOR
    assert ev["url"] == f"{NODE_URL}/b/maizal/assemblies/{aid}"
    assert ev["eventStatus"] == "EventScheduled" and ev["ical:status"] == "CONFIRMED"
    assert ev["joinMode"] == "external" and ev["externalParticipationUrl"] == ev["url"]
    assert f"{NODE_URL}/p/{pid}" in ev["content"] and ev["mediaType"] == "text/html"
    # What Mastodon shows of an Event: its name, summary and url.
    assert "Casa comunal" in ev["summary"]
    assert "p. m." in ev["summary"] or "a. m." in ev["summary"]
    for doc in (delivered, ev):
        assert doc["to"] == [PUBLIC] and doc["cc"] == [f"{ACTOR}/followers"]
    context = delivered["@context"]
    assert context[0] == "https://www.w3.org/ns/activitystreams"
    assert {"timezone", "eventStatus", "joinMode", "address"} <= set(context[1])
    key = ed25519_key(c.ctx.actors["maizal"].ed25519_public_multibase)
    assert verify_object(delivered, key) == c.ctx.urls.ed25519_key("maizal")
    assert bob.uri  # the follower it was delivered to
    served = client.get(f"/objects/assembly-{aid}",
                        headers={"Accept": "application/activity+json"}).json()
    assert served["type"] == "Event" and served["startTime"] == ev["startTime"]


def test_recording_the_assembly_links_the_event_to_its_record(node: Settings,
                                                              client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    facil = _token(client, "facil")
    # Called for half an hour from now: due, so its meeting may be recorded.
    a = _call(client, facil, starts_at=(utcnow() + timedelta(minutes=30)).isoformat(),
              agenda=[pid]).json()
    later = _call(client, facil, starts_at=_soon(2)).json()
    assert a["actions"] == ["change", "hold", "cancel"]

    # One not met yet cannot be linked; the meeting is not recorded either.
    r = client.post("/api/v1/bodies/maizal/meetings", headers=facil,
                    json={"held_at": utcnow().isoformat(), "attendance": 30,
                          "assembly_id": later["id"]})
    assert r.status_code == 409 and r.json()["code"] == "assembly-not-met"
    with c.session() as s:
        assert s.exec(select(func.count()).select_from(Meeting)).one() == 0

    # The meeting form offers the called assembly, and recording it links the two.
    login(client, "facil")
    form = client.get(f"/b/maizal/meetings/new?assembly={a['id']}")
    assert f'<option value="{a["id"]}" selected>' in form.text
    assert f'<option value="{later["id"]}"' not in form.text
    r = client.post("/b/maizal/meetings", data={
        "csrf": csrf(form.text), "assembly": str(a["id"]), "held_at": utcnow().isoformat(),
        "attendance": "40", "place": "Casa comunal", f"decide-{pid}": "1",
        f"for-{pid}": "30", f"against-{pid}": "2"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/meetings"), r.text
    with c.session() as s:
        meeting = s.exec(select(Meeting)).one()
        row = stored(s, Assembly, a["id"])
        assert row.state == "held" and row.meeting_id == meeting.id
    update = _events(c)[-1]
    record = f"{NODE_URL}/b/maizal/meetings/{meeting.id}/acta"
    assert update["type"] == "Update" and update["object"]["id"] == a["event"]
    assert update["object"]["attachment"] == [{"type": "Link", "name": "Acta de la asamblea",
                                               "mediaType": "text/html", "href": record}]
    assert record in update["object"]["content"]
    served = client.get(f"/objects/assembly-{a['id']}").json()
    assert served["attachment"][0]["href"] == record
    page = client.get(f"/b/maizal/assemblies/{a['id']}").text
    assert f"/b/maizal/meetings/{meeting.id}/acta" in page
    # A held assembly is done with.
    r = client.post(f"/api/v1/bodies/maizal/assemblies/{a['id']}/cancel", headers=facil,
                    json={})
    assert r.status_code == 409


def test_a_facilitator_calls_and_cancels_through_the_pages(node: Settings,
                                                           client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    login(client, "facil")
    body = client.get("/b/maizal")
    assert "/b/maizal/assemblies/new" in body.text and "/b/maizal/calendar.ics" in body.text
    form = client.get("/b/maizal/assemblies/new")
    assert f'name="agenda-{pid}"' in form.text
    # A refusal keeps what was typed and says why, under the field.
    r = client.post("/b/maizal/assemblies", data={
        "csrf": csrf(form.text), "starts_at": "01/01/2020 6:00 p. m.", "place": "Casa comunal"})
    assert refused(r, 422) and "ya pasaron" in r.text and "Casa comunal" in r.text
    day = (utcnow() + timedelta(days=40)).strftime("%d/%m/%Y")
    r = client.post("/b/maizal/assemblies", data={
        "csrf": csrf(form.text), "starts_at": f"{day} 6:30 p. m.", "place": "Casa comunal",
        f"agenda-{pid}": "1"}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"])
    assert f"{day} 6:30 p. m." in page.text and "Agua para el barrio" in page.text
    with c.session() as s:
        row = s.exec(select(Assembly)).one()
        assert row.starts_at.hour == 22 and row.timezone == "America/Caracas"  # 6:30 p. m. -04
        assert assemblies.agenda_ids(row) == [pid]
    assert "Casa comunal" in client.get("/b/maizal").text
    r = client.post(f"/b/maizal/assemblies/{row.id}/cancel",
                    data={"csrf": csrf(page.text), "note": "Sin luz"}, follow_redirects=False)
    assert r.status_code == 303
    assert "Asamblea cancelada." in client.get(f"/b/maizal/assemblies/{row.id}").text
    with c.session() as s:
        assert stored(s, Assembly, row.id).state == "cancelled"


def test_recording_through_the_domain_checks_the_body(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        a = assemblies.schedule(c.ctx.tx(s, c.people["facil"]), stored(s, LocalActor,
                                c.assembly.id),
                                Plan(starts_at=utcnow() + timedelta(minutes=10),
                                     place="Casa comunal"), "America/Caracas")
        s.commit()
        aid = id_of(a)
    with c.session() as s:
        council = stored(s, LocalActor, c.council.id)
        members.grant(c.ctx.tx(s), c.people["facil"], council, "facilitator")
        s.commit()
    with c.session() as s, pytest.raises(Problem) as caught:
        decisions.record_meeting(c.ctx.tx(s, c.people["facil"]),
                                 stored(s, LocalActor, c.council.id), utcnow(), "", 5, 0,
                                 "", "", [], assembly_id=aid)
    assert caught.value.status == 404


def test_an_assembly_becomes_due_to_record_by_the_nodes_clock(node: Settings,
                                                              client: TestClient) -> None:
    """Whether it may be recorded is read from the node's clock, in the API, on its
    page and on the meeting form: moved to its day, it is offered; before, it is not."""
    from node.clock import ManualClock
    from tests.conftest import ctx_of

    build_commune(node)
    facil = _token(client, "facil")
    a = _call(client, facil).json()
    assert "hold" not in a["actions"]
    login(client, "facil")
    assert f'value="{a["id"]}"' not in client.get("/b/maizal/meetings/new").text
    ctx = ctx_of(client)
    ctx.clock = ManualClock(ctx.clock.now() + timedelta(days=6, minutes=1))
    now = client.get(f"/api/v1/bodies/maizal/assemblies/{a['id']}", headers=facil).json()
    assert sorted(now["actions"]) == ["cancel", "change", "hold"]
    assert f'value="{a["id"]}"' in client.get("/b/maizal/meetings/new").text
