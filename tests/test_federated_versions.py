"""A federated matter seen from a commune across its versions: after the federation
adopts an amendment the commune holds one row per version, and once the federation has
decided, nothing on any of them changes the commune's position any more; before that,
the commune's own decision is its position, not a decision to carry out."""

from __future__ import annotations

from sqlmodel import Session, col, select

from node import pending
from node.governance import members
from node.models import Member, Proposal
from tests.federated_commune import Commune
from tests.helpers import refused, stored
from tests.pageforms import csrf, login


def _rows(c: Commune) -> list[Proposal]:
    with Session(c.ctx.engine) as s:
        return list(s.exec(select(Proposal).order_by(col(Proposal.current_version))).all())


def _token(c: Commune, username: str) -> dict[str, str]:
    with Session(c.ctx.engine) as s:
        who = s.exec(select(Member).where(Member.username == username)).one()
        _, token = members.create_token(c.ctx.tx(s, who), "app")
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def test_once_the_federation_decided_no_row_of_the_matter_changes_the_position(
        mandated: Commune) -> None:
    c = mandated
    c.new_version()
    v1, v2 = _rows(c)
    assert (v1.current_version, v2.current_version, v2.state) == (1, 2, "deliberation")
    login(c.client, "facil")
    page = c.client.get(f"/p/{v2.id}").text
    r = c.client.post(f"/p/{v2.id}/vote-open", data={"csrf": csrf(page), "days": "5"},
                      follow_redirects=False)
    assert r.status_code == 303
    c.send(c.f, c.decision(c.f, version=2))
    c.settle()
    assert {r.final_outcome for r in _rows(c)} == {"adopted"}
    # The page offers nothing that would change Maizal's position: no vote, no recall.
    page = c.client.get(f"/p/{v2.id}").text
    assert f'action="/p/{v2.id}/ballot"' not in page
    assert f'/mandates/{c.mandate_id}/recall"' not in c.client.get(f"/p/{v1.id}").text
    r = c.client.post(f"/p/{v1.id}/mandates/{c.mandate_id}/recall",
                      data={"csrf": csrf(page), "reason": "tarde"})
    assert refused(r, 409)
    # Nor does the domain take it, from the pages or the API.
    r = c.client.post(f"/p/{v2.id}/ballot", data={"csrf": csrf(page), "choice": "for",
                                                   "version": "2"})
    assert refused(r, 409) and "posición" in r.text
    auth = _token(c, "luis")
    r = c.client.get(f"/api/v1/proposals/{v2.id}", headers=auth)
    assert r.status_code == 200 and "vote" not in r.json()["actions"]
    r = c.client.put(f"/api/v1/proposals/{v2.id}/ballot", headers=auth,
                     json={"version": 2, "choice": "for"})
    assert r.status_code == 409 and r.json()["code"] == "matter-decided"
    # A member who has not voted is not asked to.
    with Session(c.ctx.engine) as s:
        luis = stored(s, Member, c.ids["luis"])
        assert [i.kind for i in pending.for_member(c.ctx.tx(s, luis))] == []


def test_a_vote_is_not_opened_nor_an_assembly_decides_after_the_federation(
        commune: Commune) -> None:
    c = commune
    c.add_facilitator()
    c.send(c.f, c.decision(c.f))
    c.settle()
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    assert "Abrir la votación" not in page
    r = c.client.post(f"/p/{row.id}/vote-open", data={"csrf": csrf(page), "days": "5"})
    assert refused(r, 409)
    assert f'decide-{row.id}' not in c.client.get("/b/maizal/meetings/new").text
    r = c.client.post("/b/maizal/meetings", data={
        "csrf": csrf(page), "held_at": "20/11/2026 6:30 p. m.", "attendance": "9",
        f"decide-{row.id}": "1", f"for-{row.id}": "7"}, follow_redirects=False)
    assert [(p.state, p.final_outcome) for p in c.rows()] == [("deliberation", "adopted")]
    auth = _token(c, "facil")
    r = c.client.post(f"/api/v1/proposals/{row.id}/vote", headers=auth, json={})
    assert r.status_code == 409 and r.json()["code"] == "matter-decided"


def test_each_row_of_the_matter_links_the_others_and_says_which_version_was_decided(
        mandated: Commune) -> None:
    c = mandated
    c.new_version()
    c.send(c.f, c.decision(c.f, version=2))
    c.settle()
    v1, v2 = _rows(c)
    login(c.client, "luis")
    first, second = (c.client.get(f"/p/{r.id}").text for r in (v1, v2))
    assert "Otras versiones de este asunto" in first and f'href="/p/{v2.id}"' in first
    assert "Otras versiones de este asunto" in second and f'href="/p/{v1.id}"' in second
    # The federation's decision names the version it was on, and where its text is.
    assert "Aprobada</strong>, sobre la versión 2" in first
    assert "ver ese texto" in first.split("Decisión de la federación", 1)[1].split("</li>")[0]
    # Maizal's own decision on version 1 was its position, not the text adopted.
    assert "Posición de Comuna El Maizal" in first
    acta = c.client.get(f"/p/{v1.id}/acta").text
    assert "Texto decidido" not in acta and "Posición de Comuna El Maizal" in acta
    assert "Texto sobre el que se fijó la posición (versión 1)" in acta
    federation = acta.split("Decisión de la federación", 1)[1]
    assert ", sobre la versión 2" in federation
    assert f'/p/{v2.id}">Texto de la versión 2</a>' in federation


def test_a_position_waits_for_the_federation_and_is_carried_out_after_it(
        mandated: Commune) -> None:
    c = mandated
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    # Maizal decided its position (to approve); the city has not decided.
    assert "Posición decidida · esperando a la federación" in page
    assert "Decisión de la federación: pendiente" in page
    assert "Estado de la ejecución" not in page
    r = c.client.post(f"/p/{row.id}/execution", data={"csrf": csrf(page),
                                                      "state": "in_progress"})
    assert refused(r, 409)
    home = c.client.get("/b/maizal").text
    waiting = home.split("Esperando a la federación</h2>", 1)
    assert len(waiting) == 2 and f'href="/p/{row.id}"' in waiting[1].split("</ul>")[0]
    assert "<h2>Decididas</h2>" not in home
    # The federation rejected it: nothing to carry out either.
    c.send(c.f, c.decision(c.f, outcome="rejected"))
    c.settle()
    page = c.client.get(f"/p/{row.id}").text
    assert "Estado de la ejecución" not in page
    assert "<h2>Decididas</h2>" in c.client.get("/b/maizal").text


def test_what_the_federation_adopted_is_carried_out(mandated: Commune) -> None:
    c = mandated
    [row] = c.rows()
    c.send(c.f, c.decision(c.f))
    c.settle()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    assert "Estado de la ejecución" in page
    r = c.client.post(f"/p/{row.id}/execution", data={"csrf": csrf(page),
                                                      "state": "carried_out"},
                      follow_redirects=False)
    assert r.status_code == 303
    assert [p.state for p in c.rows()] == ["carried_out"]
