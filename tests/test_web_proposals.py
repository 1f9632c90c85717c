"""A proposal's page shows the actions the domain offers and no other; every action
confirms what happened; drafts are edited and withdrawn from the page and the API;
evaluations are shown; times are the node's and states are words."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import decisions, proposals
from node.governance.proposal_actions import available_actions
from node.models import Decision, Proposal
from node.models.base import utcnow
from tests.conftest import hold_to_openapi
from tests.govfixtures import Commune, build_commune
from tests.helpers import refused, stored
from tests.pageforms import PASSWORD, csrf, login

# The form each action posts to on the page.
FORMS = {"edit": "/edit", "withdraw": "/withdraw", "open_deliberation": "/deliberation",
         "comment": "/comments", "amend": "/amendments", "open_vote": "/vote-open",
         "vote": "/ballot", "close": "/close", "execute": "/execution",
         "evaluate": "/evaluation"}


def _draft(c: Commune, title: str = "Huerto") -> int:
    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, title, "Sembrar maíz.",
                             own_uri=c.ctx.urls.actor("maizal"))
        s.commit()
        assert p.id is not None
        return p.id


def _to_vote(c: Commune, pid: int, due: bool = False) -> None:
    with c.session() as s:
        p = stored(s, Proposal, pid)
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), p)
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), p, utcnow() + timedelta(hours=3))
        if due:
            for who in ("m0", "m1", "m2"):
                proposals.cast(c.ctx.tx(s, c.people[who]), p, 1, "for")
            s.execute(update(Proposal).where(col(Proposal.id) == pid).values(
                closes_at=utcnow() - timedelta(seconds=1)))
        s.commit()


def _switch(client: TestClient, page: str, who: str) -> None:
    client.cookies.clear()
    login(client, who)


def _forms(html: str, pid: int) -> set[str]:
    posted = set(re.findall(rf'action="/p/{pid}(/[a-z-]+)"', html))
    return {a for a, path in FORMS.items() if path in posted}


def test_the_page_offers_exactly_what_the_domain_allows(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    draft, voting, due = _draft(c), _draft(c, "Agua"), _draft(c, "Luz")
    _to_vote(c, voting)
    _to_vote(c, due, due=True)
    page = client.get("/")
    for who in ("m0", "facil", "m1", "outsider"):
        _switch(client, page.text, who)
        for pid in (draft, voting, due):
            page = client.get(f"/p/{pid}")
            with Session(c.ctx.engine) as s:
                offered = set(available_actions(s, c.people[who], stored(s, Proposal, pid),
                                                utcnow()))
            assert _forms(page.text, pid) == offered & set(FORMS), (who, pid)
    # The author of the draft may edit and withdraw it; nobody else sees either.
    _switch(client, page.text, "m1")
    assert {"edit", "withdraw"}.isdisjoint(_forms(client.get(f"/p/{draft}").text, draft))


def test_the_author_edits_and_withdraws_a_draft_with_confirmations(node: Settings,
                                                                   client: TestClient) -> None:
    c = build_commune(node)
    pid = _draft(c)
    login(client, "m0")
    page = client.get(f"/p/{pid}").text
    assert "Editar el borrador" in page and "Retirar el borrador" in page
    r = client.post(f"/p/{pid}/edit", data={"csrf": csrf(page), "title": "Huerto comunal",
                                            "text": "Sembrar maíz y frijol."})
    assert "Borrador guardado." in r.text and "Huerto comunal" in r.text
    r = client.post(f"/p/{pid}/edit", data={"csrf": csrf(page), "title": " ",
                                            "form_id": "edit",
                                            "text": "Texto nuevo que no se pierde"})
    assert refused(r, 422) and "Texto nuevo que no se pierde" in r.text
    r = client.post(f"/p/{pid}/withdraw", data={"csrf": csrf(page)})
    assert "Propuesta retirada" in r.text and "Retirada" in r.text
    assert "Editar el borrador" not in r.text and "Retirar el borrador" not in r.text
    # Withdrawn is the end of it: no edit, no deliberation.
    r = client.post(f"/p/{pid}/deliberation", data={"csrf": csrf(page)})
    assert refused(r, 409)
    with Session(c.ctx.engine) as s:
        assert stored(s, Proposal, pid).state == "withdrawn"


def test_a_vote_confirms_and_a_decided_proposal_has_no_closing_time(node: Settings,
                                                                    client: TestClient) -> None:
    c = build_commune(node)
    pid = _draft(c)
    _to_vote(c, pid)
    login(client, "m1")
    page = client.get(f"/p/{pid}").text
    assert "la votación cierra el" in page and "UTC" not in page
    r = client.post(f"/p/{pid}/ballot", data={"csrf": csrf(page), "version": "1",
                                              "choice": "for"})
    assert "Su voto quedó registrado." in r.text and "Su voto actual: A favor" in r.text
    r = client.post(f"/p/{pid}/comments", data={"csrf": csrf(page), "text": "Bien."})
    assert "Su comentario quedó publicado." in r.text
    assert re.search(r"\d\d/\d\d/\d{4} \d{1,2}:\d\d [ap]\. m\.", r.text)
    with c.session() as s:
        for who in ("m0", "m2"):
            proposals.cast(c.ctx.tx(s, c.people[who]), stored(s, Proposal, pid), 1, "for")
        s.execute(update(Proposal).where(col(Proposal.id) == pid).values(
            closes_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    with c.session() as s:
        decisions.close_vote(c.ctx.tx(s), stored(s, Proposal, pid))
        s.commit()
    page = client.get(f"/p/{pid}").text
    main = page[page.index("<main"):]
    assert "la votación cierra" not in page and "la votación cerró" not in page, main
    assert "Aprobada" in page, main and "Votaron 3 de 4 integrantes" in page


def test_execution_and_evaluations_are_confirmed_and_shown(node: Settings,
                                                           client: TestClient) -> None:
    c = build_commune(node)
    pid = _draft(c)
    _to_vote(c, pid, due=True)
    with c.session() as s:
        decisions.close_vote(c.ctx.tx(s), stored(s, Proposal, pid))
        s.commit()
    login(client, "facil")
    page = client.get(f"/p/{pid}").text
    r = client.post(f"/p/{pid}/execution", data={"csrf": csrf(page), "state": "carried_out",
                                                 "notes": "Sembrado."})
    assert "La ejecución quedó registrada." in r.text and "ejecutada" in r.text
    _switch(client, page, "m1")
    page = client.get(f"/p/{pid}").text
    r = client.post(f"/p/{pid}/evaluation", data={"csrf": csrf(page), "score": "4",
                                                  "comment": "Buena cosecha"})
    assert "Su evaluación quedó guardada." in r.text
    assert "Evaluaciones" in r.text and "4 de 5" in r.text and "Miembro 1" in r.text
    assert "Buena cosecha" in r.text
    # Evaluated once: the form is gone for this member.
    assert f'action="/p/{pid}/evaluation"' not in r.text
    with Session(c.ctx.engine) as s:
        did = s.exec(select(Decision)).one().id
    got = client.get(f"/api/v1/decisions/{did}").json()
    assert [(e["name"], e["score"], e["comment"]) for e in got["evaluations"]] == \
        [("Miembro 1", 4, "Buena cosecha")]


def test_the_api_lists_actions_and_edits_and_withdraws_drafts(node: Settings,
                                                              client: TestClient) -> None:
    c = build_commune(node)
    pid = _draft(c)
    checked = hold_to_openapi(client)
    token = client.post("/api/v1/tokens", json={"username": "m0", "password": PASSWORD})
    author = {"Authorization": f"Bearer {token.json()['token']}"}
    token = client.post("/api/v1/tokens", json={"username": "m1", "password": PASSWORD})
    other = {"Authorization": f"Bearer {token.json()['token']}"}
    assert client.get(f"/api/v1/proposals/{pid}").json()["actions"] == []
    mine = client.get(f"/api/v1/proposals/{pid}", headers=author).json()["actions"]
    assert {"edit", "withdraw", "open_deliberation"} <= set(mine)
    assert client.get(f"/api/v1/proposals/{pid}", headers=other).json()["actions"] == []
    listed = client.get("/api/v1/bodies/maizal/proposals", headers=author).json()["items"]
    assert listed[0]["actions"] == mine
    r = client.put(f"/api/v1/proposals/{pid}", headers=other,
                   json={"title": "Otro", "text": "Otro texto"})
    assert r.status_code == 403
    r = client.put(f"/api/v1/proposals/{pid}", headers=author,
                   json={"title": "Huerto comunal", "text": "Sembrar maíz y frijol."})
    assert r.status_code == 200 and r.json()["title"] == "Huerto comunal"
    r = client.post(f"/api/v1/proposals/{pid}/withdrawal", headers=author)
    assert r.status_code == 200 and r.json()["state"] == "withdrawn"
    assert r.json()["actions"] == []
    assert client.post(f"/api/v1/proposals/{pid}/withdrawal", headers=author).status_code \
        == 409
    assert checked, "the answers were checked against the OpenAPI schema"


def test_what_was_typed_survives_a_refusal_in_its_own_form_only(
        node: Settings, client: TestClient) -> None:
    """An amendment written while the vote was opened, a comment or a ballot refused:
    the person gets their words back, in the form they typed them in (the page has
    several forms with a `text` field), or to copy when the form is gone."""
    c = build_commune(node)
    pid = _draft(c)
    with c.session() as s:
        proposals.open_deliberation(c.ctx.tx(s, c.people["m0"]), stored(s, Proposal, pid))
        s.commit()
    login(client, "m1")
    page = client.get(f"/p/{pid}").text
    assert 'name="form_id" value="amend"' in page
    r = client.post(f"/p/{pid}/amendments", data={
        "csrf": csrf(page), "form_id": "amend", "title": " ", "text": "Sembrar yuca también.",
        "reason": "Hay semilla."})
    assert refused(r, 422)
    assert r.text.count("Sembrar yuca también.") == 1 and 'value="Hay semilla."' in r.text
    # Meanwhile the coordination opens the vote: the amendment form is gone.
    with c.session() as s:
        proposals.open_vote(c.ctx.tx(s, c.people["facil"]), stored(s, Proposal, pid),
                            utcnow() + timedelta(hours=3))
        s.commit()
    r = client.post(f"/p/{pid}/amendments", data={
        "csrf": csrf(page), "form_id": "amend", "title": "Huerto",
        "text": "Sembrar yuca también.", "reason": "Hay semilla."})
    assert refused(r, 409)
    assert "Su enmienda no se propuso" in r.text and "Sembrar yuca también." in r.text
    r = client.post(f"/p/{pid}/ballot", data={
        "csrf": csrf(page), "form_id": "ballot", "version": "1", "choice": "quizás",
        "reason": "Porque sí"})
    assert refused(r, 422) and 'value="Porque sí"' in r.text
