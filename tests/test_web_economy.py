"""The economy page: publish through the form, see the match inside the commune,
accept it, record and confirm a delivery, read the ledger; in Spanish and English,
in words (units, actions, states, names), never raw values; each form says what
happened; a member is offered only what it may do, and a forced form is refused in
Spanish with what was typed kept."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Commitment, EconomicEvent, Exchange, Intent
from tests.conftest import ctx_of
from tests.economy_net import NS
from tests.economy_page import post
from tests.govfixtures import build_commune
from tests.helpers import refused
from tests.pageforms import csrf, login


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def visible(html: str) -> str:
    """What a person reads on the page (no markup, no attribute values)."""
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


RAW = re.compile(r"\b(kilogram|cylinder|cubicMetre|litre|hour|work|produce|dropoff|"
                 r"deliverService|offer|need|open|matched|proposed|agreed|partial|"
                 r"fulfilled|allocation|barter|recorded|confirmed)\b|https?://|@node\.test")


def test_the_economy_through_the_page(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "facil")
    assert "Economía comunal" in client.get("/b/maizal/economy").text
    r = post(client, "/b/maizal/economy/enterprises",
             {"slug": "gas", "name": "Empresa de gas", "sector": "energía"})
    assert r.status_code == 303
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "cylinder",
              "enterprise": "gas", "summary": "bombonas", "rise_hours": "2"}, follow=True)
    assert "Oferta publicada." in r.text and "3 bombonas" in visible(r.text)
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
                {"quantity": "1,05"}).status_code == 303
    with Session(ctx_of(client).engine) as s:
        ev = s.exec(select(EconomicEvent)).one()
    assert post(client, f"/b/maizal/economy/deliveries/{ev.id}/confirm",
                {"accept": "1"}).status_code == 303
    html = client.get("/b/maizal/economy").text
    text = visible(html)
    assert "cumplido" in text and "1,05 bombonas" in text and "Empresa de gas" in text
    assert not RAW.search(text), RAW.search(text)
    page = client.get("/b/maizal/economy")
    client.post("/language", data={"csrf": csrf(page.text), "lang": "en",
                                   "next": "/b/maizal/economy"})
    html = client.get("/b/maizal/economy").text
    assert "Communal economy" in html and "What we gave and received" in html
    assert "1.05 cylinders" in visible(html)


def test_a_member_is_offered_only_what_it_may_do(node: Settings, client: TestClient) -> None:
    com = build_commune(node)
    login(client, "facil")
    post(client, "/b/maizal/economy/enterprises", {"slug": "gas", "name": "Empresa de gas"})
    post(client, "/b/maizal/economy/intents",
         {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "kilogram"})
    with com.session() as s:
        from node.economy import enterprises

        body = s.merge(com.assembly)
        ent = enterprises.get(s, body, "gas")
        enterprises.add_worker(com.ctx.tx(s, s.merge(com.people["facil"])), body, ent,
                               s.merge(com.people["m1"]), True)
        s.commit()
    client.cookies.clear()
    login(client, "m0")
    html = client.get("/b/maizal/economy").text
    assert "Publicar una oferta" not in html and "Retirar" not in html
    assert "Proponer un plan conjunto" not in html and "Registrar una empresa" not in html
    # Forced anyway: refused in Spanish, nothing stored.
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "3", "unit": "kilogram"},
             follow=True)
    assert refused(r, 403) and "facilitators" not in r.text and "only" not in visible(r.text)
    with Session(ctx_of(client).engine) as s:
        assert len(s.exec(select(Intent)).all()) == 1
    r = post(client, "/b/maizal/economy/plans", {
        "title": "Vivero", "side0": "inputs", "action0": "work",
        "kind0": NS + "tractor-work", "quantity0": "1", "unit0": "hour"}, follow=True)
    assert refused(r, 403) and 'value="Vivero"' not in r.text  # no form offered to keep
    # An integrante on the gas enterprise's council publishes for it, only for it.
    client.cookies.clear()
    login(client, "m1")
    html = client.get("/b/maizal/economy").text
    assert "Publicar una oferta" in html and 'value="gas"' in html
    assert "Registrar una empresa" not in html and "Retirar" not in html
    # A refusal keeps what was typed, next to the field.
    r = post(client, "/b/maizal/economy/intents",
             {"side": "need", "kind": NS + "gas", "quantity": "tres", "unit": "kilogram",
              "enterprise": "gas", "summary": "para la panadería"}, follow=True)
    assert refused(r, 422) and 'value="tres"' in r.text and "para la panadería" in r.text
    assert 'id="err-quantity"' in r.text
    r = post(client, "/b/maizal/economy/intents",
             {"side": "need", "kind": NS + "gas", "quantity": "2", "unit": "kilogram",
              "enterprise": "gas"}, follow=True)
    assert "Necesidad publicada." in r.text


def test_the_project_bank_page(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "m0")
    page = client.get("/b/maizal/projects")
    assert page.status_code == 200 and "Publicar un proyecto" not in page.text
    r = client.post("/b/maizal/projects", data={"csrf": csrf(page.text), "title": "Huerto",
                                                "lessons": "Regar temprano."})
    assert refused(r, 403)  # only the coordination publishes for the body
    client.cookies.clear()
    login(client, "facil")
    page = client.get("/b/maizal/projects")
    # Nothing but a title: refused, the title kept, the reason under the texts.
    r = client.post("/b/maizal/projects", data={"csrf": csrf(page.text),
                                                "title": "Huerto escolar"})
    assert refused(r, 422) and 'value="Huerto escolar"' in r.text
    assert 'id="err-problem"' in r.text
    r = client.post("/b/maizal/projects", data={
        "csrf": csrf(page.text), "title": "Huerto escolar", "sector": "Alimentación",
        "problem": "Niños sin verduras.", "lessons": "Regar temprano."})
    assert "Proyecto publicado en el banco." in r.text
    html = client.get("/b/maizal/projects?q=regar&sector=alimentación").text
    text = visible(html)
    assert "Huerto escolar" in text and "0 adopciones" in text and "Comuna El Maizal" in text
    assert not RAW.search(text) and not re.search(r"\d{4}-\d\d-\d\dT", text)
    # A body does not adopt its own record: not offered, and refused if forced.
    assert "Adoptar" not in html
    assert "Huerto escolar" not in client.get("/b/maizal/projects?q=tractor").text
    with Session(ctx_of(client).engine) as s:
        from node.models import ProjectRecord

        rid = s.exec(select(ProjectRecord.id)).one()
    page = client.get("/b/maizal/projects")
    r = client.post(f"/b/maizal/projects/{rid}/adopt", data={"csrf": csrf(page.text)})
    assert refused(r, 409)


def test_a_joint_plan_through_the_page_is_decided_by_the_body(node: Settings,
                                                              client: TestClient) -> None:
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
    assert "Plan conjunto propuesto" in client.get(r.headers["location"]).text
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        plan = s.exec(select(JointPlan)).one()
        assert plan.state == "proposed" and plan.proposal_id is not None
        # The body decides it in assembly, like any proposal of its own.
        facil = s.exec(select(Member).where(Member.username == "facil")).one()
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        decisions.record_meeting(ctx.tx(s, facil), body, datetime.now(UTC), "Casa", 5, 3, "",
                                 "", [{"proposal_id": plan.proposal_id, "for": 5}])
        s.commit()
    one_pass(ctx, datetime(1970, 1, 1, tzinfo=UTC))
    html = client.get("/b/maizal/economy").text
    text = visible(html)
    assert "Vivero comunal" in text and "aprobado" in text and "2,5 kilogramos" in text
    assert "producción: Semillas" in text and "trabajo: Trabajo de tractor" in text
    assert not RAW.search(text), RAW.search(text)
    # A row asking for a kind the catalogue does not have is refused, nothing stored,
    # and the form comes back with what was typed.
    r = post(client, "/b/maizal/economy/plans", {
        "title": "Otro", "side0": "inputs", "action0": "work", "kind0": "https://x.example/k",
        "quantity0": "1", "unit0": "hour"}, follow=True)
    assert refused(r, 422) and 'value="Otro"' in r.text
    with Session(ctx.engine) as s:
        assert len(s.exec(select(JointPlan)).all()) == 1


def test_quantities_are_read_as_their_reader_writes_them() -> None:
    """"1.000" is a thousand to a Spanish reader (the pages write "0,3"), not 1."""
    from decimal import Decimal

    import pytest

    from node.web.economy_labels import parse_number

    # "2.5" to a Spanish reader (and "10,5" to an English one) can only be a decimal:
    # a phone keypad may offer only that mark.
    for text, es, en in (("1.000", "1000", "1.000"), ("1.000,5", "1000.5", None),
                         ("10,5", "10.5", "10.5"), ("2.5", "2.5", "2.5"),
                         ("1,000", "1.000", "1000"), ("1,000.5", None, "1000.5"),
                         (" 3 ", "3", "3"), ("0.250", "0.250", "0.250"),
                         ("1.00.0", None, None), ("tres", None, None), ("", None, None)):
        for lang, want in (("es", es), ("en", en)):
            if want is None:
                with pytest.raises(ValueError):
                    parse_number(text, lang)
            else:
                assert parse_number(text, lang) == Decimal(want), (text, lang)


def test_a_thousand_written_the_venezuelan_way_is_published_as_a_thousand(
        node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "facil")
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "1.000", "unit": "kilogram",
              "enterprise": "", "rise_hours": "2"}, follow=True)
    assert "1.000 kilogramos" in visible(r.text), visible(r.text)[:400]
    r = post(client, "/b/maizal/economy/intents",
             {"side": "offer", "kind": NS + "gas", "quantity": "1.00,0", "unit": "kilogram",
              "enterprise": "", "rise_hours": "2"}, follow=True)
    assert "1.00,0" in r.text  # refused, with what was typed kept
    with Session(ctx_of(client).engine) as s:
        assert [i.quantity for i in s.exec(select(Intent))] == ["1000"]
