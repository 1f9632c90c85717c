"""Accounts from the pages: changing one's password, the reset link a coordinator
makes, where a member lands after logging in, and what waits for them there."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlmodel import col, select
from starlette.testclient import TestClient

from node import pending
from node.app import create_app
from node.clock import ManualClock
from node.config import Settings
from node.governance import accounts, members, proposals
from node.models import (
    AuditEntry,
    Exchange,
    FederationLink,
    Mandate,
    MandatedVote,
    RemoteActor,
)
from node.models.base import utcnow
from node.models.members import PasswordReset
from node.tx import Tx
from tests.conftest import NODE_URL, ctx_of, hold_to_openapi
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, refused
from tests.pageforms import PASSWORD, csrf, post
from tests.pageforms import try_login as login

NEW = "otra-clave-muy-larga"


def actions(c: Commune, name: str) -> list[dict[str, Any]]:
    with c.session() as s:
        return [json.loads(e.data) for e in s.exec(
            select(AuditEntry).where(AuditEntry.action == name)).all()]


def test_change_my_password(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL) as phone:
        assert login(phone, "m0").status_code == 303  # another session of the same person
        assert login(client, "m0").status_code == 303
        form = {"current_password": "no-es-esta-clave", "new_password": NEW,
                "repeat_password": NEW}
        assert refused(post(client, "/account/password", form, "/account"), 403)
        r = post(client, "/account/password", {**form, "current_password": PASSWORD,
                                                "repeat_password": NEW + "x"}, "/account")
        assert refused(r, 422)
        r = post(client, "/account/password", {**form, "current_password": PASSWORD,
                                                "new_password": "corta",
                                                "repeat_password": "corta"}, "/account")
        assert refused(r, 422)
        assert "corta" not in r.text  # passwords are never kept in the form
        r = post(client, "/account/password", {**form, "current_password": PASSWORD},
                 "/account")
        assert r.status_code == 200 and "Contraseña cambiada" in r.text
        # This browser stays in; the other session ended.
        assert "Miembro 0" in client.get("/account").text
        assert phone.get("/account", follow_redirects=False).status_code == 303
    client.cookies.clear()
    assert login(client, "m0").status_code == 401
    assert login(client, "m0", NEW).status_code == 303
    assert actions(c, "password.changed") == [{"sessions_ended": 1}]


def _reset_link(client: TestClient, c: Commune, who: str) -> str:
    r = post(client, f"/b/maizal/admin/members/{c.people[who].id}/reset")
    assert r.status_code == 200, r.text
    assert "Sirve una sola vez" in r.text
    found = re.search(r'<code id="reset-link">([^<]+)</code>', r.text)
    assert found, "the pattern is not in the text"
    return found.group(1)


def test_reset_link_once_then_every_session_ends(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL) as theirs:
        assert login(theirs, "m0").status_code == 303
        with c.session() as s:
            _, api = members.create_token(c.ctx.tx(s, c.people["m0"]), "app")
            s.commit()
        login(client, "facil")
        link = _reset_link(client, c, "m0")
        path = link.removeprefix(NODE_URL)
        assert path.startswith("/reset/")
        client.cookies.clear()
        page = client.get(path)
        assert page.status_code == 200 and "Miembro 0" in page.text
        r = client.post(path, data={"csrf": csrf(page.text), "new_password": NEW,
                                    "repeat_password": "otra"})
        assert refused(r, 422)
        page = client.get(path)
        r = client.post(path, data={"csrf": csrf(page.text), "new_password": NEW,
                                    "repeat_password": NEW})
        assert r.status_code == 200 and "Contraseña nueva guardada" in r.text
        assert str(r.url).endswith("/b/maizal")  # logged in, at their commune
        # Their other browser and their API token no longer work.
        assert theirs.get("/account", follow_redirects=False).status_code == 303
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {api}"}
                          ).status_code == 401
        # The link worked once.
        assert client.get(path).status_code == 410
    client.cookies.clear()
    assert login(client, "m0", NEW).status_code == 303
    assert [a["link_by"] for a in actions(c, "password.reset")] == [c.people["facil"].id]
    assert actions(c, "password.reset_link")[0]["body"] == "maizal"


def test_reset_link_expires_and_a_newer_one_replaces_it(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    first = _reset_link(client, c, "m1").removeprefix(NODE_URL)
    second = _reset_link(client, c, "m1").removeprefix(NODE_URL)
    assert client.get(first).status_code == 410
    assert client.get(second).status_code == 200
    with c.session() as s:
        for row in s.exec(select(PasswordReset)).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            s.add(row)
        s.commit()
    assert client.get(second).status_code == 410
    with c.session() as s:
        raw = accounts.make_reset(c.ctx.tx(s, c.people["facil"]), c.assembly, c.people["m1"])
        s.commit()
        row = s.exec(select(PasswordReset).where(col(PasswordReset.used_at).is_(None),
                                                 PasswordReset.expires_at > utcnow())).one()
        assert row.expires_at - row.created_at == accounts.RESET_VALID == timedelta(hours=24)
    assert client.get(f"/reset/{raw}").status_code == 200


def test_who_may_make_a_reset_link(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        # "other" coordinates the council; "facil" is a member of the council too.
        members.grant(c.ctx.tx(s), c.people["other"], c.council, "facilitator")
        members.grant(c.ctx.tx(s), c.people["facil"], c.council, "member")
        s.commit()
    login(client, "m0")
    assert refused(post(client, f"/b/maizal/admin/members/{c.people['m1'].id}/reset"), 403)
    client.cookies.clear()
    login(client, "other")
    # The council's coordinator cannot take over the commune's coordinator's account.
    page = client.get("/b/consejo_salud/admin/members").text
    facil_row = page.split(f'id="m{c.people["facil"].id}"')[1].split("</li>")[0]
    assert "reset" not in facil_row
    r = post(client, f"/b/consejo_salud/admin/members/{c.people['facil'].id}/reset")
    assert refused(r, 403)
    with c.session() as s:
        assert s.exec(select(PasswordReset)).first() is None


def test_login_lands_on_the_members_commune(node: Settings, client: TestClient) -> None:
    build_commune(node)
    r = login(client, "other")
    assert r.headers["location"] == "/b/consejo_salud"
    assert client.get("/", follow_redirects=False).headers["location"] == "/b/consejo_salud"
    client.cookies.clear()
    assert login(client, "m0").headers["location"] == "/b/maizal"
    client.cookies.clear()
    # Sent to log in from a page: back to that page, but never to another site.
    page = client.get("/login?next=/b/maizal/members")
    assert 'name="next" value="/b/maizal/members"' in page.text
    r = client.post("/login", data={"csrf": csrf(page.text), "username": "m0",
                                    "password": PASSWORD, "next": "//evil.example/x"},
                    follow_redirects=False)
    assert r.headers["location"] == "/b/maizal"
    # Someone with no body yet lands on the public profile.
    client.cookies.clear()
    assert login(client, "outsider").headers["location"] == "/"


def test_pending_for_me(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    urls = c.ctx.urls
    with c.session() as s:
        facil, m0 = c.people["facil"], c.people["m0"]
        soon = proposals.create(c.ctx.tx(s, facil), c.assembly, "Biblioteca",
                                "Abrir una biblioteca.")
        proposals.open_deliberation(c.ctx.tx(s, facil), soon)
        proposals.open_vote(Tx(s, urls, facil), soon, closes_at=utcnow() + timedelta(hours=5))
        later = proposals.create(c.ctx.tx(s, facil), c.assembly, "Huerto", "Un huerto.")
        proposals.open_deliberation(c.ctx.tx(s, facil), later)
        proposals.open_vote(Tx(s, urls, facil), later, closes_at=utcnow() + timedelta(days=5))
        # The city's vote on the matter the mandate is for is open (it told the commune).
        later.federation_vote_closes_at = utcnow() + timedelta(days=6)
        proposals.create(c.ctx.tx(s, m0), c.assembly, "Mi borrador", "Aún no.")
        proposals.create(c.ctx.tx(s, facil), c.assembly, "Borrador ajeno", "De otra persona.")
        me_uri = f"{urls.base}/members/m0"
        s.add(Mandate(uri="https://ciudad.example/m/1", member_body=urls.actor("maizal"),
                      federation="https://ciudad.example/actors/ciudad",
                      matter="https://ciudad.example/p/1", version=1, position="approve",
                      spokespersons=json.dumps([me_uri]), proposal_id=later.id))
        s.add(RemoteActor(uri="https://vecina.example/actors/sur", host="vecina.example",
                          document=json.dumps({"name": "Comuna El Sur"})))
        s.add(FederationLink(body_id=id_of(c.assembly), remote_uri="https://vecina.example/actors/sur",
                             direction="has_member", state="pending"))
        s.add(Exchange(uri="https://node.test/x/1", proposer_id=c.assembly.id,
                       proposer=urls.actor("maizal"), mode="allocation", state="proposed"))
        s.commit()
        items = pending.for_member(Tx(s, urls, m0))
        assert [(i.kind, i.title) for i in items] == [
            ("vote", "Biblioteca"), ("vote", "Huerto"), ("mandate", "Huerto"),
            ("draft", "Mi borrador")]
        assert items[0].soon and not items[1].soon
        # The coordinator also answers for the body: the exchange and the join request.
        kinds = [(i.kind, i.title) for i in pending.for_member(Tx(s, urls, facil))]
        assert ("exchange", "#1") in kinds and ("join", "Comuna El Sur") in kinds
        assert ("draft", "Borrador ajeno") in kinds and ("mandate", "Huerto") not in kinds
        assert pending.for_member(Tx(s, urls, c.people["outsider"])) == []
    login(client, "m0")
    page = client.get("/b/maizal").text
    assert "Pendiente para usted" in page and "Mi borrador" in page
    assert "Borrador ajeno" not in page.split("Pendiente para usted")[1].split("</section>")[0]
    start = client.get("/inicio").text
    assert "Biblioteca" in start and "Comuna El Maizal" in start
    # Voting takes it off the list.
    page = client.get(f"/p/{soon.id}").text
    client.post(f"/p/{soon.id}/ballot", data={"csrf": csrf(page), "version": "1",
                                              "choice": "for"})
    with c.session() as s:
        assert [i.title for i in pending.for_member(Tx(s, urls, c.people["m0"]))
                if i.kind == "vote"] == ["Huerto"]


def test_a_mandate_leaves_the_list_once_voted_or_decided_and_returns_if_refused(
        node: Settings) -> None:
    c = build_commune(node)
    urls = c.ctx.urls
    with c.session() as s:
        facil, m0 = c.people["facil"], c.people["m0"]
        local = proposals.create(c.ctx.tx(s, facil), c.assembly, "Huerto", "Un huerto.")
        mandate = Mandate(uri="https://ciudad.example/m/1", member_body=urls.actor("maizal"),
                          federation="https://ciudad.example/actors/ciudad",
                          matter="https://ciudad.example/p/1", version=1, position="approve",
                          spokespersons=json.dumps([f"{urls.base}/members/m0"]),
                          proposal_id=local.id)
        s.add(mandate)
        s.commit()

        def mandates() -> list[str]:
            return [i.title for i in pending.for_member(Tx(s, urls, m0)) if i.kind == "mandate"]

        # Nothing to do before the federation opens its vote (the spokesperson was asked
        # to vote when the city would still refuse it), nor after it closes.
        assert mandates() == []
        local.federation_vote_closes_at = utcnow() - timedelta(minutes=1)
        s.add(local)
        s.commit()
        assert mandates() == []
        local.federation_vote_closes_at = utcnow() + timedelta(days=1)
        s.add(local)
        s.commit()
        assert mandates() == ["Huerto"]
        # At the issuing body a vote cast under the mandate is kept against the local
        # proposal (federations.mandates._keep_sent).
        vote = MandatedVote(uri="https://node.test/v/1", proposal_id=local.id or 0,
                            member_body=mandate.member_body, mandate_uri=mandate.uri,
                            spokesperson=f"{urls.base}/members/m0", version=1,
                            choice="for", state="sent")
        s.add(vote)
        s.commit()
        assert mandates() == []
        vote.state = "refused"
        s.add(vote)
        s.commit()
        assert mandates() == ["Huerto"]
        local.final_outcome = "adopted"
        s.add(local)
        s.commit()
        assert mandates() == []


def test_the_api_changes_a_password_and_lists_what_waits(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    checked = hold_to_openapi(client)
    with c.session() as s:
        _, token = members.create_token(c.ctx.tx(s, c.people["m0"]), "app")
        proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Mi borrador", "Aún no.")
        s.commit()
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/api/v1/me/pending", headers=auth)
    assert r.status_code == 200 and [(i["kind"], i["title"], i["body"]) for i in
                                     r.json()["items"]] == [("draft", "Mi borrador",
                                                            "Comuna El Maizal")]
    r = client.put("/api/v1/me/password", headers=auth,
                   json={"current_password": "no", "new_password": NEW})
    assert r.status_code == 403 and r.json()["code"] == "wrong-password"
    r = client.put("/api/v1/me/password", headers=auth,
                   json={"current_password": PASSWORD, "new_password": "corta"})
    assert r.status_code == 422 and r.json()["code"] == "weak-password"
    r = client.put("/api/v1/me/password", headers=auth,
                   json={"current_password": PASSWORD, "new_password": NEW})
    assert r.status_code == 204
    assert login(client, "m0", NEW).status_code == 303
    assert client.get("/api/v1/me/pending").status_code == 401
    assert "GET /api/v1/me/pending 200" in checked


def test_joining_keeps_what_was_typed_and_says_why(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    with c.session() as s:
        raw = members.invite(c.ctx.tx(s, c.people["facil"]), c.assembly)
        s.commit()
    page = client.get(f"/join/{raw}")
    form = {"csrf": csrf(page.text), "username": "rosa", "display_name": "Rosa Pérez",
            "family": "f9", "password": "corta"}
    r = client.post(f"/join/{raw}", data=form)
    assert refused(r, 422) and 'value="Rosa Pérez"' in r.text and "corta" not in r.text
    assert 'id="err-password"' in r.text
    r = client.post(f"/join/{raw}", data={**form, "password": PASSWORD})
    assert str(r.url).endswith("/b/maizal") and "su cuenta quedó creada" in r.text
    assert "Rosa Pérez" in client.get("/b/maizal/members").text


def test_an_amendment_vote_waits_until_cast(node: Settings) -> None:
    from node.governance import amendments

    c = build_commune(node)
    with c.session() as s:
        facil, m0 = c.people["facil"], c.people["m0"]
        p = proposals.create(c.ctx.tx(s, facil), c.assembly, "Huerto", "Un huerto.")
        proposals.open_deliberation(c.ctx.tx(s, facil), p)
        a = amendments.amend(c.ctx.tx(s, m0), p, "Huerto con riego", "Un huerto con riego.")
        amendments.open_vote(c.ctx.tx(s, facil), p, id_of(a),
                             closes_at=utcnow() + timedelta(days=3))
        s.commit()
        assert [(i.kind, i.title) for i in pending.for_member(c.ctx.tx(s, m0))] == [
            ("amendment", "Huerto con riego")]
        amendments.cast(c.ctx.tx(s, m0), p, id_of(a), "for")
        s.commit()
        assert pending.for_member(c.ctx.tx(s, m0)) == []


def test_a_web_session_ends_after_its_days_by_the_nodes_clock(node: Settings,
                                                              client: TestClient) -> None:
    """The session's age is read from the node's clock: moved past WEB_SESSION_DAYS,
    the same cookie no longer logs anyone in; a day before, it still does."""
    build_commune(node)
    assert login(client, "m0").status_code == 303
    ctx = ctx_of(client)
    clock = ManualClock(ctx.clock.now() + timedelta(days=members.WEB_SESSION_DAYS - 1))
    ctx.clock = clock
    assert "/logout" in client.get("/b/maizal").text
    clock.advance(2 * 86400)
    assert "/logout" not in client.get("/b/maizal").text


def test_an_invitation_expires_by_the_nodes_clock(node: Settings, client: TestClient) -> None:
    """Listed, shown and accepted by the node's clock: a week on, the link is dead in
    the API list, on its page and when accepted."""
    c = build_commune(node)
    ctx = ctx_of(client)
    with c.session() as s:
        raw = members.invite(ctx.tx(s, c.people["facil"]), c.assembly, "member", 7)
        s.commit()
    assert client.get(f"/join/{raw}").status_code == 200
    ctx.clock = ManualClock(ctx.clock.now() + timedelta(days=7, minutes=1))
    r = client.post("/api/v1/tokens", json={"username": "facil", "password": PASSWORD})
    auth = {"Authorization": f"Bearer {r.json()['token']}"}
    listed = client.get("/api/v1/bodies/maizal/invitations", headers=auth).json()["items"]
    assert [i["state"] for i in listed] == ["expired"]
    assert client.get(f"/join/{raw}").status_code == 410
    r = client.post(f"/api/v1/invitations/{raw}/accept",
                    json={"username": "tarde", "password": PASSWORD})
    assert r.status_code == 410 and r.json()["code"] == "invitation-expired"
