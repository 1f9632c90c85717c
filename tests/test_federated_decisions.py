"""A commune records a federation's decision only if it comes from the level that
decides the matter and its own proof holds, however it travelled."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from node.federations import objects
from tests.fakeremote import FakeRemote
from tests.federated_commune import AS, ME, Commune, stamp
from tests.helpers import refused


def test_the_deciding_federations_decision_is_recorded(commune: Commune) -> None:
    c = commune
    c.send(c.f, c.decision(c.f))
    c.settle()
    [row] = c.rows()
    assert row.final_outcome == "adopted" and row.final_decision.startswith(c.f.server.base)


def test_a_decision_whose_proof_fails_is_not_recorded(commune: Commune) -> None:
    c = commune
    c.send(c.f, c.decision(c.f, tamper=True))
    c.settle()
    assert [r.final_outcome for r in c.rows()] == [""]


def test_a_decision_from_the_wrong_level_is_not_recorded(commune: Commune) -> None:
    c = commune
    # G is one of Maizal's federations, but it does not cover C: it cannot decide this.
    c.send(c.g, c.decision(c.g))
    c.settle()
    assert [r.final_outcome for r in c.rows()] == [""]


def test_a_matter_passed_down_by_a_stranger_is_ignored(
        commune: Commune, remote: FakeRemote) -> None:
    c = commune
    stranger = remote.actor("extrano")
    create = c.activity(c.c, "Create", c.c.prove({"@context": AS, **objects.proposal_object(
        f"{c.c.server.base}/objects/matter-2", c.c.uri, "Otro", "Texto.", [c.c.uri, ME], 1,
        stamp())}), to=[c.f.uri])
    c.send(stranger, c.activity(stranger, "Announce", create))
    # And one passed down by F whose inner Create was altered after C signed it.
    forged = json.loads(json.dumps(create))
    forged["object"]["content"] = "Otro texto"
    forged["id"] += "-x"
    c.send(c.f, c.activity(c.f, "Announce", forged))
    c.settle()
    assert [r.matter for r in c.rows()] == [c.matter]


def test_pages_show_the_matter_and_take_the_mandate(commune: Commune) -> None:
    from node.models.matters import Mandate
    from tests.pageforms import csrf, login

    c = commune
    facil_id = c.add_facilitator()
    [row] = c.rows()
    login(c.client, "facil")
    page = c.client.get(f"/p/{row.id}").text
    # The federation by its name, never its address.
    assert "Asunto federado" in page and "Dar el mandato" not in page
    assert c.f.uri not in page.split("<main", 1)[-1]
    r = c.client.post("/b/maizal/meetings", data={
        "csrf": csrf(page), "held_at": "2026-11-20T18:30", "attendance": "9",
        f"decide-{row.id}": "1", f"for-{row.id}": "7", f"against-{row.id}": "2"},
        follow_redirects=False)
    assert r.status_code == 303
    page = c.client.get(f"/p/{row.id}").text
    assert "Dar el mandato" in page and 'value="reject"' not in page  # it was adopted
    r = c.client.post(f"/p/{row.id}/mandate", data={
        "csrf": csrf(page), "position": "approve", "spokesperson": str(facil_id)},
        follow_redirects=False)
    assert r.status_code == 303, r.text
    page = c.client.get(f"/p/{row.id}").text
    assert "La federación aún no abrió la votación" in page and 'value="for"' not in page
    c.vote_opened()
    page = c.client.get(f"/p/{row.id}").text
    assert "Votar ante la federación" in page and "vigente" in page
    # Under a mandate to approve, only "A favor" is offered; the rest is refused.
    assert 'value="for"' in page and 'value="against"' not in page
    assert "Facilitadora" in page  # the spokesperson by name
    with Session(c.ctx.engine) as s:
        mandate = s.exec(select(Mandate)).one()
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/vote",
                      data={"csrf": csrf(page), "choice": "against"})
    assert refused(r, 403)  # outside the mandate: refused, nothing sent
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/vote",
                      data={"csrf": csrf(page), "choice": "for"}, follow_redirects=False)
    assert r.status_code == 303
    r = c.client.post(f"/p/{row.id}/mandates/{mandate.id}/recall",
                      data={"csrf": csrf(page), "reason": "otra vocería"},
                      follow_redirects=False)
    assert r.status_code == 303
    assert "revocado" in c.client.get(f"/p/{row.id}").text
    assert c.client.get("/b/maizal/federation").status_code == 200
