"""Setting up a commune from the pages: name and description, bodies inside it, the
statute with its rule in words, members and roles, invitations. Each rule is tried
by someone it refuses, and what the pages offer is what the domain allows."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from node.config import Settings
from node.errors import Problem
from node.governance import authz, bodies, members
from node.governance.statute import Statute
from node.models import AuditEntry, Invitation, LocalActor, Member
from node.tx import Tx
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, refused, stored
from tests.pageforms import PASSWORD, login, post


def audit(c: Commune, action: str) -> list[dict[str, Any]]:
    with c.session() as s:
        return [json.loads(e.data) for e in s.exec(
            select(AuditEntry).where(AuditEntry.action == action)).all()]


def test_every_set_up_page_renders_for_the_coordination_only(node: Settings,
                                                             client: TestClient) -> None:
    build_commune(node)
    pages = ("/b/maizal/admin", "/b/maizal/admin/statute", "/b/maizal/admin/members",
             "/b/maizal/invitations")
    for url in pages:  # anonymous
        assert client.get(url).status_code == 401, url
    login(client, "m0")
    for url in pages:
        r = client.get(url)
        assert r.status_code == 403 and "Configuración" not in r.text, url
    body = client.get("/b/maizal").text
    assert "/admin" not in body and "/invitations" not in body
    client.cookies.clear()
    login(client, "facil")
    for url in pages:
        assert client.get(url).status_code == 200, url
    assert 'href="/b/maizal/admin"' in client.get("/b/maizal").text


def test_name_and_description(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    r = post(client, "/b/maizal/admin/profile", {"name": "Tomada", "summary": "x"})
    assert refused(r, 403)
    client.cookies.clear()
    login(client, "facil")
    r = post(client, "/b/maizal/admin/profile", {"name": "  ", "summary": "algo"})
    assert refused(r, 422)
    # What was typed comes back in the form.
    assert "algo</textarea>" in r.text
    r = post(client, "/b/maizal/admin/profile",
             {"name": "Comuna Socialista El Maizal", "summary": "Una comuna de Lara."})
    assert r.status_code == 200 and "Se guardaron el nombre y la descripción." in r.text
    page = client.get("/b/maizal").text
    assert "Comuna Socialista El Maizal" in page and "Una comuna de Lara." in page
    assert audit(c, "body.described")[0]["name"] == "Comuna Socialista El Maizal"
    # The public profile says the new name at once, to visitors too.
    client.cookies.clear()
    assert "Comuna Socialista El Maizal" in client.get("/").text
    with c.session() as s:
        # The new actor document goes to followers and federations.
        from node.models import OutboxItem
        assert s.exec(select(OutboxItem).where(OutboxItem.activity_type == "Update")).first()


def test_bodies_inside_the_commune(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    r = post(client, "/b/maizal/admin/bodies",
             {"name": "Consejo Comunal Los Rastrojos", "kind": "communal_council"})
    assert r.status_code == 200 and "Se creó la instancia" in r.text
    assert str(r.url).endswith("/b/consejo_comunal_los_rastrojos")
    assert "Consejo comunal" in r.text and "1 integrante" in r.text
    assert 'href="/b/maizal">Comuna El Maizal' in r.text  # up to the commune
    r = post(client, "/b/maizal/admin/bodies",
             {"name": "Parlamento Comunal", "kind": "communal_parliament"})
    assert "Parlamento comunal" in r.text
    # One made elsewhere (the API) is linked from the commune too.
    with c.session() as s:
        parent = bodies.body_by_handle(s, "maizal")
        bodies.create_body(c.ctx.tx(s), parent, "asamblea_api", "Asamblea de la calle 5",
                           "citizens_assembly")
        s.commit()
    page = client.get("/b/maizal").text
    for name in ("Consejo Comunal Los Rastrojos", "Parlamento Comunal",
                 "Asamblea de la calle 5", "Consejo de salud"):
        assert name in page, name
    assert "Asamblea de ciudadanos y ciudadanas" in client.get("/b/maizal/admin").text
    # The creator coordinates the new body.
    with c.session() as s:
        made = bodies.body_by_handle(s, "consejo_comunal_los_rastrojos")
        assert "facilitator" in members.roles_in(s, c.people["facil"], made)
    assert refused(post(client, "/b/maizal/admin/bodies",
                        {"name": "Consejo Comunal Los Rastrojos",
                         "kind": "communal_council"}), 409)
    assert refused(post(client, "/b/maizal/admin/bodies", {"name": "X", "kind": "bank"}), 422)
    client.cookies.clear()
    login(client, "m0")
    assert refused(post(client, "/b/maizal/admin/bodies",
                        {"name": "Consejo pirata", "kind": "communal_council"}), 403)
    with c.session() as s:
        assert not s.exec(select(LocalActor).where(LocalActor.name == "Consejo pirata")).first()


def test_one_and_two_members_said_right(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    post(client, "/b/maizal/admin/bodies", {"name": "Consejo Uno", "kind": "communal_council"})
    assert "1 integrante" in client.get("/b/consejo_uno").text
    with c.session() as s:
        members.grant(c.ctx.tx(s), c.people["m0"], bodies.body_by_handle(s, "consejo_uno"),
                      "member")
        s.commit()
    page = client.get("/b/consejo_uno").text
    assert "2 integrantes" in page and "1 integrante" not in page


def test_statute_preview_and_save(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    form = {"rule": "majority", "threshold": "2/3", "quorum_basis": "families",
            "quorum": "50", "voting_days": "5"}
    r = post(client, "/b/maizal/admin/statute/preview", form)
    sentence = ("Se aprueba con más de la mitad de los votos, si participa al menos el "
                "50\u00a0% de las familias. La votación dura 5 días.")
    assert r.status_code == 200 and sentence in r.text
    with c.session() as s:  # a preview writes nothing
        assert bodies.statute_of(bodies.body_by_handle(s, "maizal")).voting_days == 7
    r = post(client, "/b/maizal/admin/statute", form)
    assert "Estatuto guardado" in r.text and sentence in r.text
    assert sentence in client.get("/b/maizal").text
    with c.session() as s:
        st = bodies.statute_of(bodies.body_by_handle(s, "maizal"))
        assert (st.quorum_basis.value, str(st.quorum), st.voting_days) == ("families", "1/2", 5)
    r = post(client, "/b/maizal/admin/statute/preview",
             {**form, "rule": "qualified", "quorum": "0"})
    assert "al menos 66,7\u00a0% de los votos a favor, sin mínimo de participación" in r.text
    assert refused(post(client, "/b/maizal/admin/statute", {**form, "quorum": "150"}), 422)
    assert refused(post(client, "/b/maizal/admin/statute", {**form, "quorum": "mucho"}), 422)
    client.cookies.clear()
    login(client, "m0")
    assert refused(post(client, "/b/maizal/admin/statute", {**form, "voting_days": "1"}), 403)
    with c.session() as s:
        assert bodies.statute_of(bodies.body_by_handle(s, "maizal")).voting_days == 5


def _ids(c: Commune, *names: str) -> list[int]:
    return [id_of(c.people[n]) for n in names]


def test_roles_as_words_and_changed_from_the_page(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    page = client.get("/b/maizal/members").text
    assert "coordinador o coordinadora" in page and "facilitator" not in page
    m0, facil = _ids(c, "m0", "facil")
    admin = client.get("/b/maizal/admin/members").text
    # The only coordinator is offered neither stepping down nor leaving.
    mine = admin.split(f'id="m{facil}"')[1].split("</li>")[0]
    assert "Quitar de la coordinación" not in mine and "Retirar de la instancia" not in mine
    r = post(client, f"/b/maizal/admin/members/{m0}/role", {"action": "grant_spokesperson"})
    assert "Se cambió el rol de Miembro 0." in r.text
    r = post(client, f"/b/maizal/admin/members/{m0}/role", {"action": "grant_facilitator"})
    with c.session() as s:
        assert members.roles_in(s, c.people["m0"], c.assembly) == {
            "member", "spokesperson", "facilitator"}
    # Now two coordinators: either may step down, but not both.
    r = post(client, f"/b/maizal/admin/members/{facil}/role", {"action": "revoke_facilitator"})
    assert r.status_code == 200
    r = post(client, f"/b/maizal/admin/members/{m0}/role", {"action": "revoke_facilitator"})
    assert refused(r, 403)  # facil is no longer a coordinator


def test_the_last_coordinator_stays(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    facil = c.people["facil"].id
    for url, data in ((f"/b/maizal/admin/members/{facil}/role",
                       {"action": "revoke_facilitator"}),
                      (f"/b/maizal/admin/members/{facil}/remove", {})):
        r = post(client, url, data)
        assert refused(r, 409), url
    with c.session() as s:
        assert members.coordinators(s, c.assembly) == [facil]


def test_removing_a_member_leaves_an_audit_entry(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    m1 = c.people["m1"].id
    login(client, "m0")
    assert refused(post(client, f"/b/maizal/admin/members/{m1}/remove"), 403)
    client.cookies.clear()
    login(client, "facil")
    r = post(client, f"/b/maizal/admin/members/{m1}/remove", {"reason": "se mudó"})
    assert "Miembro 1 ya no integra Comuna El Maizal." in r.text
    assert "Miembro 1" not in client.get("/b/maizal/members").text
    assert audit(c, "member.removed") == [{"member": m1, "reason": "se mudó"}]
    # Someone who is not in the body cannot be "removed" again.
    assert refused(post(client, f"/b/maizal/admin/members/{m1}/remove"), 404)
    with c.session() as s:  # the account stays
        assert s.get(Member, m1) is not None


def test_invitations_listed_revoked_and_dead(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    r = post(client, "/b/maizal/invitations", {"role": "spokesperson", "days": "3"})
    found = re.search(r'<code id="invite-link">([^<]+)</code>', r.text)
    assert found, "the pattern is not in the text"
    link = found.group(1)
    token = link.rsplit("/", 1)[1]
    assert "vocero o vocera" in r.text and "pendiente" in r.text
    assert token not in str(r.url)
    listed = client.get("/b/maizal/invitations").text
    assert token not in listed  # shown once only
    with c.session() as s:
        inv = s.exec(select(Invitation)).one()
    r = post(client, f"/b/maizal/invitations/{inv.id}/revoke")
    assert "Invitación revocada" in r.text and "revocada" in r.text
    assert refused(post(client, f"/b/maizal/invitations/{inv.id}/revoke"), 409)
    assert client.get(f"/join/{token}").status_code == 410
    api = client.post(f"/api/v1/invitations/{token}/accept", json={
        "username": "nueva", "password": PASSWORD, "display_name": "Nueva"})
    assert api.status_code == 410 and api.json()["code"] == "invitation-revoked"
    assert audit(c, "invitation.revoked") == [{"invitation": inv.id}]
    assert refused(post(client, "/b/maizal/invitations", {"role": "member", "days": "x"}), 422)
    client.cookies.clear()
    login(client, "m0")
    assert refused(post(client, "/b/maizal/invitations", {"role": "member"}), 403)


def test_a_revoke_and_an_accept_race_one_wins(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        raw = members.invite(c.ctx.tx(s, c.people["facil"]), c.assembly)
        s.commit()
        inv = s.exec(select(Invitation)).one()
        members.accept_invitation(c.ctx.tx(s), raw, "rapida", PASSWORD, "Rápida")
        s.commit()
        with pytest.raises(Problem) as exc:
            members.revoke_invitation(c.ctx.tx(s, c.people["facil"]), c.assembly, id_of(inv))
        assert exc.value.code == "invitation-closed"


# --- what is offered is what is allowed ----------------------------------------------

# `me` is Any: the tests also hand them None (nobody signed in), outside the domain's types,
# to see that it is refused like anyone without the role.
MUTATORS: dict[str, Callable[[Tx, LocalActor], object]] = {
    "edit": lambda tx, b: bodies.describe(tx, b, "Otro nombre", ""),
    "create_body": lambda tx, b: bodies.add_body(tx, b, "Consejo X", "communal_council"),
    "set_statute": lambda tx, b: bodies.change_statute(tx, b, Statute(voting_days=3)),
}


@pytest.mark.parametrize("who", ["facil", "m0", "other", "outsider", None])
def test_body_actions_match_the_mutators(node: Settings, who: str) -> None:
    c = build_commune(node)
    for action, mutate in MUTATORS.items():
        with c.session() as s:
            me = stored(s, Member, c.people[who].id) if who else None
            body = stored(s, LocalActor, c.assembly.id)
            offered = action in authz.body_actions(s, me, body)
            try:
                mutate(c.ctx.tx(s, me), body)
                done = True
            except Problem:
                done = False
            s.rollback()
        assert offered == done, (who, action)


MEMBER_MUTATORS: dict[str, Callable[[Tx, LocalActor, Member], object]] = {
    "grant_facilitator": lambda tx, b, t: members.change_role(tx, b, t, "grant_facilitator"),
    "revoke_facilitator": lambda tx, b, t: members.change_role(tx, b, t, "revoke_facilitator"),
    "grant_spokesperson": lambda tx, b, t: members.change_role(tx, b, t, "grant_spokesperson"),
    "revoke_spokesperson": lambda tx, b, t: members.change_role(tx, b, t,
                                                               "revoke_spokesperson"),
    "remove": lambda tx, b, t: members.remove_member(tx, b, t),
}


def test_member_actions_match_the_mutators(node: Settings) -> None:
    """Every (actor, target) pair, with one and with two coordinators: each offered
    action succeeds and each other one is refused."""
    c = build_commune(node)
    with c.session() as s:
        members.grant(c.ctx.tx(s), c.people["m1"], c.assembly, "spokesperson")
        s.commit()
    for second, actor, target in itertools.product(
            (False, True), ("facil", "m0", "other"), ("facil", "m0", "m1", "other")):
        for action, mutate in MEMBER_MUTATORS.items():
            with c.session() as s:
                if second:
                    members.grant(c.ctx.tx(s), stored(s, Member, c.people["m0"].id), c.assembly,
                                  "facilitator")
                me, them = (stored(s, Member, c.people[n].id) for n in (actor, target))
                body = stored(s, LocalActor, c.assembly.id)
                offered = action in authz.member_actions(s, me, body, them)
                try:
                    mutate(c.ctx.tx(s, me), body, them)
                    done = True
                except Problem:
                    done = False
                s.rollback()
            assert offered == done, (second, actor, target, action)


def test_the_api_does_the_same_set_up(node: Settings, client: TestClient) -> None:
    from tests.conftest import hold_to_openapi

    c = build_commune(node)
    checked = hold_to_openapi(client)
    with c.session() as s:
        _, facil = members.create_token(c.ctx.tx(s, c.people["facil"]), "app")
        _, m0 = members.create_token(c.ctx.tx(s, c.people["m0"]), "app")
        members.invite(c.ctx.tx(s, c.people["facil"]), c.assembly)
        s.commit()
    as_facil = {"Authorization": f"Bearer {facil}"}
    as_m0 = {"Authorization": f"Bearer {m0}"}
    r = client.patch("/api/v1/bodies/maizal", headers=as_m0, json={"name": "Tomada"})
    assert r.status_code == 403
    r = client.patch("/api/v1/bodies/maizal", headers=as_facil,
                     json={"name": "Comuna El Maizal Nueva", "summary": "En Lara."})
    assert r.status_code == 200 and r.json()["name"] == "Comuna El Maizal Nueva"
    assert client.get("/api/v1/bodies/maizal/invitations", headers=as_m0).status_code == 403
    items = client.get("/api/v1/bodies/maizal/invitations", headers=as_facil).json()["items"]
    assert [i["state"] for i in items] == ["waiting"]
    r = client.post(f"/api/v1/bodies/maizal/invitations/{items[0]['id']}/revoke",
                    headers=as_facil)
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    who = c.people["m1"].id
    assert client.put(f"/api/v1/bodies/maizal/members/{who}/roles/spokesperson",
                      headers=as_m0).status_code == 403
    assert client.put(f"/api/v1/bodies/maizal/members/{who}/roles/spokesperson",
                      headers=as_facil).status_code == 204
    me = c.people["facil"].id
    r = client.delete(f"/api/v1/bodies/maizal/members/{me}/roles/facilitator",
                      headers=as_facil)
    assert r.status_code == 409 and r.json()["code"] == "last-coordinator"
    r = client.post(f"/api/v1/bodies/maizal/members/{who}/reset", headers=as_facil)
    assert r.status_code == 201 and "/reset/" in r.json()["url"]
    assert client.get(r.json()["url"].removeprefix("http://node.test")).status_code == 200
    assert client.delete(f"/api/v1/bodies/maizal/members/{who}?reason=mudanza",
                         headers=as_facil).status_code == 204
    assert audit(c, "member.removed") == [{"member": who, "reason": "mudanza"}]
    assert {"PATCH /api/v1/bodies/{handle} 200",
            "POST /api/v1/bodies/{handle}/members/{member_id}/reset 201"} <= set(checked)
