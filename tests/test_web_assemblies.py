"""Forms for what the API already does: replies in threads, amendments put to a
vote, and the record of an in-person assembly, including who may fill them in."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select

from node.governance import proposals
from node.models import Amendment, Comment, Decision, Meeting, Proposal
from node.models.base import utcnow
from tests.govfixtures import build_commune
from tests.helpers import refused
from tests.test_web_pages import csrf, login


def _proposal(c, state="deliberation"):
    with c.session() as s:
        p = proposals.create(s, c.people["m0"], c.assembly, "Huerto", "Sembrar maíz.",
                             own_uri=c.ctx.urls.actor("maizal"))
        if state != "draft":
            proposals.open_deliberation(s, c.people["m0"], p)
        s.commit()
        return p.id


def test_replies_are_shown_under_what_they_answer(node, client):
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


def test_an_amendment_goes_to_a_vote_through_the_forms(node, client):
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
    assert "Tu voto sobre la enmienda" in page.text
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
        a = s.get(Amendment, aid)
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
        assert s.get(Proposal, pid).current_version == 2


def test_a_facilitator_records_an_assembly(node, client):
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
        assert s.get(Proposal, other).state == "deliberation"


def test_assembly_form_refuses_members_and_bad_counts(node, client):
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
