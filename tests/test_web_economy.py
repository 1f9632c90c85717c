"""The economy page: publish through the form, see the match inside the commune,
accept it, record and confirm a delivery, read the ledger; in Spanish and English;
and a member who may not answer for the body is refused with the reason."""

from __future__ import annotations

from sqlmodel import Session, select

from node.economy.catalogue import shared
from node.models import Commitment, EconomicEvent, Exchange, Intent
from tests.conftest import ctx_of
from tests.govfixtures import build_commune
from tests.helpers import refused
from tests.test_web_pages import csrf, login

NS = shared().namespace


def post(client, path: str, data: dict, follow: bool = False):
    page = client.get("/b/maizal/economy")
    return client.post(path, data={"csrf": csrf(page.text), **data}, follow_redirects=follow)


def test_the_economy_through_the_page(node, client):
    build_commune(node)
    login(client, "facil")
    assert "Economía comunal" in client.get("/b/maizal/economy").text
    r = post(client, "/b/maizal/economy/enterprises",
             {"slug": "gas", "name": "Empresa de gas", "sector": "energía"})
    assert r.status_code == 303
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "cylinder",
              "enterprise": "gas", "summary": "bombonas", "rise_hours": "2"})
    assert r.status_code == 303
    r = post(client, "/b/maizal/economy/intents",
             {"side": "need", "kind": NS + "gas", "quantity": "10,5", "unit": "kilogram",
              "enterprise": "", "rise_hours": "0"})
    assert r.status_code == 303
    html = client.get("/b/maizal/economy").text
    assert "Aceptar" in html and "Gas doméstico (GLP)" in html
    with Session(ctx_of(client).engine) as s:
        ex = s.exec(select(Exchange)).one()
        offer = s.exec(select(Intent).where(Intent.side == "offer")).one()
        assert offer.rise_after == 7200 and offer.available == "1.95"
    assert post(client, f"/b/maizal/economy/exchanges/{ex.id}/answer",
                {"accept": "1"}).status_code == 303
    with Session(ctx_of(client).engine) as s:
        c = s.exec(select(Commitment)).one()
        assert (c.state, c.quantity, c.unit) == ("agreed", "1.05", "cylinder")
    assert post(client, f"/b/maizal/economy/commitments/{c.id}/deliver",
                {"quantity": "1.05"}).status_code == 303
    with Session(ctx_of(client).engine) as s:
        ev = s.exec(select(EconomicEvent)).one()
    assert post(client, f"/b/maizal/economy/deliveries/{ev.id}/confirm",
                {"accept": "1"}).status_code == 303
    html = client.get("/b/maizal/economy").text
    assert "cumplido" in html and "1.05 cylinder" in html
    page = client.get("/b/maizal/economy")
    client.post("/language", data={"csrf": csrf(page.text), "lang": "en",
                                   "next": "/b/maizal/economy"})
    html = client.get("/b/maizal/economy").text
    assert "Communal economy" in html and "What we gave and received" in html


def test_a_member_cannot_publish_for_the_body(node, client):
    build_commune(node)
    login(client, "m0")
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "kilogram"},
             follow=True)
    assert refused(r, 403) and "facilitators" in r.text
    with Session(ctx_of(client).engine) as s:
        assert s.exec(select(Intent)).all() == []
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "tres", "unit": "kilogram"},
             follow=True)
    assert refused(r, 422)


def test_the_project_bank_page(node, client):
    build_commune(node)
    login(client, "m0")
    page = client.get("/b/maizal/projects")
    assert page.status_code == 200 and "Publicar un proyecto" not in page.text
    r = client.post("/b/maizal/projects", data={"csrf": csrf(page.text), "title": "Huerto",
                                                "lessons": "Regar temprano."})
    assert refused(r, 403)  # only facilitators publish for the body
    client.cookies.clear()
    login(client, "facil")
    page = client.get("/b/maizal/projects")
    r = client.post("/b/maizal/projects", data={
        "csrf": csrf(page.text), "title": "Huerto escolar", "sector": "Alimentación",
        "problem": "Niños sin verduras.", "lessons": "Regar temprano."},
        follow_redirects=False)
    assert r.status_code == 303
    html = client.get("/b/maizal/projects?q=regar&sector=alimentación").text
    assert "Huerto escolar" in html and "0 adopciones" in html
    assert "Huerto escolar" not in client.get("/b/maizal/projects?q=tractor").text
    # A body does not adopt its own record.
    with Session(ctx_of(client).engine) as s:
        from node.models import ProjectRecord

        rid = s.exec(select(ProjectRecord.id)).one()
    page = client.get("/b/maizal/projects")
    r = client.post(f"/b/maizal/projects/{rid}/adopt", data={"csrf": csrf(page.text)})
    assert refused(r, 409)


def test_a_joint_plan_through_the_page_is_decided_by_the_body(node, client):
    from datetime import UTC, datetime

    from node.economy.clock import one_pass
    from node.governance import decisions
    from node.models import JointPlan, LocalActor, Member

    build_commune(node)
    login(client, "facil")
    r = post(client, "/b/maizal/economy/plans", {
        "title": "Vivero comunal", "content": "Plantas para la reforestación.",
        "process": "Sembrar", "side0": "inputs", "action0": "work",
        "kind0": NS + "tractor-work", "quantity0": "6", "unit0": "hour",
        "side1": "outputs", "action1": "produce", "kind1": NS + "seeds", "quantity1": "2,5",
        "unit1": "kilogram"})
    assert r.status_code == 303, r.text
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        plan = s.exec(select(JointPlan)).one()
        assert plan.state == "proposed" and plan.proposal_id is not None
        # The body decides it in assembly, like any proposal of its own.
        facil = s.exec(select(Member).where(Member.username == "facil")).one()
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        decisions.record_meeting(s, facil, body, ctx.urls, datetime.now(UTC), "Casa", 5, 3, "",
                                 "", [{"proposal_id": plan.proposal_id, "for": 5}])
        s.commit()
    one_pass(ctx, datetime(1970, 1, 1, tzinfo=UTC))
    html = client.get("/b/maizal/economy").text
    assert "Vivero comunal" in html and "aprobado" in html and "2.5 kilogram" in html
    # A row asking for a kind the catalogue does not have is refused, nothing stored.
    r = post(client, "/b/maizal/economy/plans", {
        "title": "Otro", "side0": "inputs", "action0": "work", "kind0": "https://x.example/k",
        "quantity0": "1", "unit0": "hour"})
    assert r.status_code == 422
    with Session(ctx.engine) as s:
        assert len(s.exec(select(JointPlan)).all()) == 1
