"""Forms for what the API already does: replies in threads, amendments put to a
vote, and the record of an in-person assembly, including who may fill them in."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from fractions import Fraction

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import bodies, proposals
from node.governance.statute import QuorumBasis, Rule, Statute
from node.models import Amendment, Comment, Decision, Meeting, OutboxItem, Proposal
from node.models.base import utcnow
from tests.govfixtures import Commune, build_commune
from tests.helpers import refused, stored
from tests.pageforms import csrf, login


def _proposal(c: Commune, state: str = "deliberation") -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Huerto", "Sembrar maíz.",
                             own_uri=c.ctx.urls.actor("maizal"))
        if state != "draft":
            proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        s.commit()
        assert p.id is not None
        return p.id


def test_replies_are_shown_under_what_they_answer(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    login(client, "m1")
    page = client.get(f"/p/{pid}")
    client.post(f"/p/{pid}/comments", data={"csrf": csrf(page.text), "text": "Primero"})
    client.post(f"/p/{pid}/comments", data={"csrf": csrf(page.text), "text": "Aparte"})
    with Session(c.ctx.engine) as s:
        first = s.exec(select(Comment).where(Comment.text == "Primero")).one().id
    r = client.post(f"/p/{pid}/comments", data={"csrf": csrf(page.text), "text": "Respuesta",
                                                "parent": str(first)}, follow_redirects=False)
    assert r.status_code == 303
    html = client.get(f"/p/{pid}").text
    # Reading order: the reply sits right after its parent, indented, before "Aparte".
    assert html.index("Primero") < html.index("Respuesta") < html.index("Aparte")
    assert 'class="comment d1"' in html and f'name="parent" value="{first}"' in html
    with Session(c.ctx.engine) as s:
        assert s.exec(select(Comment).where(Comment.text == "Respuesta")).one().parent_id \
            == first


def test_an_amendment_goes_to_a_vote_through_the_forms(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    login(client, "m1")
    page = client.get(f"/p/{pid}")
    client.post(f"/p/{pid}/amendments", data={"csrf": csrf(page.text), "title": "Huerto",
                                              "text": "Sembrar maíz y frijol."})
    with Session(c.ctx.engine) as s:
        aid = s.exec(select(Amendment)).one().id
    # A plain member cannot put it to a vote.
    r = client.post(f"/p/{pid}/amendments/{aid}/vote-open",
                    data={"csrf": csrf(page.text), "days": "2"})
    assert refused(r, 403)
    client.post("/logout", data={"csrf": csrf(page.text)})
    login(client, "facil")
    page = client.get(f"/p/{pid}")
    assert "Someter a votación" in page.text
    client.post(f"/p/{pid}/amendments/{aid}/vote-open", data={"csrf": csrf(page.text),
                                                              "days": "2"})
    page = client.get(f"/p/{pid}")
    assert "Su voto sobre la enmienda" in page.text
    r = client.post(f"/p/{pid}/amendments/{aid}/ballot",
                    data={"csrf": csrf(page.text), "choice": "for"}, follow_redirects=False)
    assert r.status_code == 303
    # The final vote cannot open while the amendment is being voted on.
    r = client.post(f"/p/{pid}/vote-open", data={"csrf": csrf(page.text), "days": "3"})
    assert refused(r, 409)
    for who in ("m0", "m1", "m2"):
        client.post("/logout", data={"csrf": csrf(page.text)})
        login(client, who)
        page = client.get(f"/p/{pid}")
        client.post(f"/p/{pid}/amendments/{aid}/ballot",
                    data={"csrf": csrf(page.text), "choice": "for"})
    with Session(c.ctx.engine) as s:
        a = stored(s, Amendment, aid)
        a.closes_at = utcnow() - timedelta(seconds=1)
        s.add(a)
        s.commit()
    client.post("/logout", data={"csrf": csrf(page.text)})
    login(client, "facil")
    page = client.get(f"/p/{pid}")
    client.post(f"/p/{pid}/amendments/{aid}/close", data={"csrf": csrf(page.text)})
    page = client.get(f"/p/{pid}")
    assert "Sembrar maíz y frijol." in page.text and "v2" in page.text
    with Session(c.ctx.engine) as s:
        assert stored(s, Proposal, pid).current_version == 2


def test_a_facilitator_records_an_assembly(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid, other = _proposal(c), _proposal(c)
    login(client, "facil")
    page = client.get("/b/maizal/meetings/new")
    assert page.status_code == 200 and "Huerto" in page.text
    r = client.post("/b/maizal/meetings", data={
        "csrf": csrf(page.text), "held_at": "2026-11-20T18:30", "place": "Casa comunal",
        "attendance": "40", "families": "22", "agenda": "1. Huerto", "minutes": "Se debatió.",
        f"decide-{pid}": "1", f"for-{pid}": "30", f"against-{pid}": "5",
        f"abstain-{pid}": "5"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/b/maizal/meetings"
    listing = client.get("/b/maizal/meetings").text
    assert "Casa comunal" in listing and "40" in listing and "Se debatió." in listing
    with Session(c.ctx.engine) as s:
        d = s.exec(select(Decision)).one()
        assert d.proposal_id == pid and d.method == "assembly" and d.outcome == "adopted"
        assert json.loads(d.record)["counts"]["for"] == 30
        # A matter the assembly did not tick stays open.
        assert stored(s, Proposal, other).state == "deliberation"


def test_assembly_form_refuses_members_and_bad_counts(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _proposal(c)
    login(client, "m1")
    page = client.get("/b/maizal")
    assert client.get("/b/maizal/meetings/new").status_code == 403
    r = client.post("/b/maizal/meetings", data={
        "csrf": csrf(page.text), "held_at": "2026-11-20T18:30", "attendance": "10",
        f"decide-{pid}": "1", f"for-{pid}": "10"})
    assert refused(r, 403)
    client.post("/logout", data={"csrf": csrf(page.text)})
    login(client, "facil")
    page = client.get("/b/maizal/meetings/new")
    for bad in ({"attendance": "10", f"for-{pid}": "11"},  # more votes than people present
                {"attendance": "10", f"for-{pid}": "-1"},
                {"attendance": "diez"}):
        r = client.post("/b/maizal/meetings", data={
            "csrf": csrf(page.text), "held_at": "2026-11-20T18:30", f"decide-{pid}": "1",
            **bad})
        assert refused(r, 422), bad
    r = client.post("/b/maizal/meetings", data={"csrf": csrf(page.text), "held_at": "ayer",
                                                "attendance": "3"})
    assert refused(r, 422)
    with Session(c.ctx.engine) as s:
        assert s.exec(select(Meeting)).all() == [] and s.exec(select(Decision)).all() == []


def test_an_assembly_counts_the_people_present_on_its_own_day(node: Settings,
                                                              client: TestClient) -> None:
    """40 people at an assembly of a body with 5 accounts: the decision reads 40 of
    40 present (never "40 / 5"), is dated on the day typed in the node's zone, and the
    line published to followers says the same."""
    c = build_commune(node)
    pid = _proposal(c)
    login(client, "facil")
    page = client.get("/b/maizal/meetings/new")
    # The statute counts members, so the form does not ask for families.
    assert 'name="families"' not in page.text and "(UTC)" not in page.text
    r = client.post("/b/maizal/meetings", data={
        "csrf": csrf(page.text), "held_at": "20/11/2026 6:30 p. m.", "attendance": "40",
        f"decide-{pid}": "1", f"for-{pid}": "30", f"against-{pid}": "6",
        f"abstain-{pid}": "4"})
    assert "Asamblea registrada con sus decisiones." in r.text
    assert "20/11/2026 6:30 p. m." in r.text
    with Session(c.ctx.engine) as s:
        d = s.exec(select(Decision)).one()
        meeting = s.exec(select(Meeting)).one()
        # 6:30 p. m. in Caracas (UTC-4) is 22:30 UTC, and the decision carries that day.
        assert meeting.held_at.replace(tzinfo=None) == datetime(2026, 11, 20, 22, 30)
        assert d.decided_at.replace(tzinfo=None) == datetime(2026, 11, 20, 22, 30)
        rec = json.loads(d.record)
        assert rec["assembly"]["present"] == 40 and rec["electorate"]["members"] == 40
        notes = [json.loads(o.body) for o in s.exec(select(OutboxItem)).all()]
    html = client.get(f"/p/{pid}").text
    assert "Votaron 40 de 40 presentes" in html and "20/11/2026" in html
    assert "/ 5" not in html and "la votación cierra" not in html
    published = [n["object"]["content"] for n in notes if n["type"] == "Create"
                 and n["object"].get("type") == "Note"]
    assert published and "votaron 40 de 40 presentes" in published[-1]
    assert "de 5" not in published[-1]


def test_an_assembly_under_a_family_quorum_asks_for_the_families_present(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node, quorum=Fraction(1, 2))
    with c.session() as s:
        bodies.set_statute(c.ctx.tx(s), stored(s, type(c.assembly), c.assembly.id),
                           Statute(rule=Rule.majority, quorum=Fraction(1, 2),
                                   quorum_basis=QuorumBasis.families))
        s.commit()
    pid = _proposal(c)
    login(client, "facil")
    page = client.get("/b/maizal/meetings/new")
    assert 'name="families"' in page.text
    # 2 families registered (m0..m3 in f0 and f1, the coordinator in f0) and 1 came:
    # half the families, the quorum exactly.
    client.post("/b/maizal/meetings", data={
        "csrf": csrf(page.text), "held_at": "21/11/2026 9:00 a. m.", "attendance": "12",
        "families": "1", f"decide-{pid}": "1", f"for-{pid}": "12"})
    with Session(c.ctx.engine) as s:
        d = s.exec(select(Decision)).one()
        rec = json.loads(d.record)
        assert d.outcome == "adopted" and rec["assembly"]["families_present"] == 1
        assert rec["electorate"]["families"] == 2
    html = client.get(f"/p/{pid}").text
    assert "Votaron 12 de 12 presentes" in html and "familias presentes: 1 de 2" in html


def test_an_assembly_day_is_typed_as_people_write_it(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    _proposal(c)
    login(client, "facil")
    page = client.get("/b/maizal/meetings/new")
    r = client.post("/b/maizal/meetings", data={
        "csrf": csrf(page.text), "held_at": "el viernes", "attendance": "3",
        "place": "Casa comunal"})
    assert refused(r, 422)
    # The refusal sits next to the field, and what was typed is still there.
    assert 'id="err-held_at"' in r.text and 'value="Casa comunal"' in r.text


def test_a_vote_opened_from_the_page_runs_its_days_from_the_nodes_clock(
        node: Settings, client: TestClient) -> None:
    """The form's "days" count from the node's clock, as every deadline does, and the
    page offers closing once that clock has passed it."""
    from node.clock import ManualClock
    from node.models.base import aware
    from tests.conftest import ctx_of

    c = build_commune(node)
    pid = _proposal(c)
    ctx = ctx_of(client)
    clock = ManualClock(ctx.clock.now() + timedelta(days=40))
    ctx.clock = clock
    login(client, "facil")
    page = client.get(f"/p/{pid}")
    client.post(f"/p/{pid}/vote-open", data={"csrf": csrf(page.text), "days": "3"})
    with Session(c.ctx.engine) as s:
        closes = stored(s, Proposal, pid).closes_at
    assert closes is not None and aware(closes) == clock.now() + timedelta(days=3)
    assert f"/p/{pid}/close" not in client.get(f"/p/{pid}").text
    clock.advance(3 * 86400 + 60)
    assert f"/p/{pid}/close" in client.get(f"/p/{pid}").text
