"""The set-up, account and notice pages attacked as a stranger and as a member: forms
posted directly (no page offered them), reset links used twice or late, redirects to
elsewhere, another browser's notice, what a notice keeps, and what may be cached."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select
from starlette.testclient import TestClient

from node.config import Settings
from node.governance import accounts, bodies, members
from node.models import Invitation, LocalActor, Member, Membership, WebNotice
from node.models.base import utcnow
from node.models.members import PasswordReset
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, refused, stored
from tests.pageattack import NEW, bearer, council_coordinator, post, use
from tests.pageforms import PASSWORD, csrf, login


def state(c: Commune) -> tuple[Any, ...]:
    with c.session() as s:
        a = stored(s, LocalActor, c.assembly.id)
        return a.name, a.statute, sorted(
            (m.member_id, m.role) for m in s.exec(
                select(Membership).where(
                    Membership.body_id == c.assembly.id)).all())


# --- the coordination's forms posted by people they do not offer them to -------------

ADMIN_POSTS = [
    ("/b/maizal/admin/profile", {"name": "Tomada", "summary": "x"}),
    ("/b/maizal/admin/bodies", {"name": "Consejo falso", "kind": "communal_council"}),
    ("/b/maizal/admin/statute", {"rule": "majority", "quorum": "0", "voting_days": "1"}),
    ("/b/maizal/admin/members/{me}/role", {"action": "grant_facilitator"}),
    ("/b/maizal/admin/members/{facil}/remove", {"reason": "golpe"}),
    ("/b/maizal/admin/members/{facil}/role", {"action": "revoke_facilitator"}),
]


def test_members_strangers_and_a_councils_coordinator_cannot_run_the_commune(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    cc = council_coordinator(c)
    before = state(c)
    ids = {"me": 0, "facil": c.people["facil"].id}
    for who in (None, "m0", "outsider", cc.username):
        client.cookies.clear()
        if who:
            login(client, who)
            with c.session() as s:
                ids["me"] = s.exec(select(Member.id).where(Member.username == who)).one()
        for url, data in ADMIN_POSTS:
            r = post(client, url.format(**ids), data, follow_redirects=False)
            if who is None:
                # Sent to log in, with nothing done.
                assert r.status_code == 303 and r.headers["location"].startswith("/login")
            else:
                assert refused(client.get(r.headers["location"]), 403) or \
                    r.status_code == 303, (who, url)
        # Nor the reset link for the commune's coordinator, nor an invitation.
        r = post(client, f"/b/maizal/admin/members/{c.people['facil'].id}/reset")
        assert "/reset/" not in r.text, who
        r = post(client, "/b/maizal/invitations", {"role": "facilitator", "days": "7"})
        assert "/join/" not in r.text, who
    assert state(c) == before
    with c.session() as s:
        assert s.exec(select(PasswordReset)).all() == []
        assert s.exec(select(Invitation)).all() == []
        assert [b.name for b in bodies.children(s, c.assembly)] == ["Consejo de salud"]


def test_a_refused_admin_form_says_so(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    r = post(client, f"/b/maizal/admin/members/{c.people['m0'].id}/role",
             {"action": "grant_facilitator"})
    assert refused(r, 403)
    with c.session() as s:
        assert members.roles_in(s, c.people["m0"], c.assembly) == {"member"}


def test_the_last_coordinator_stays_whatever_the_form_says(node: Settings,
                                                           client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    fid = c.people["facil"].id
    for url, data in ((f"/b/maizal/admin/members/{fid}/remove", {}),
                      (f"/b/maizal/admin/members/{fid}/role", {"action": "revoke_facilitator"})):
        assert refused(post(client, url, data), 409)
    # A role that is not one: refused, not granted.
    r = post(client, f"/b/maizal/admin/members/{c.people['m0'].id}/role",
             {"action": "grant_member"})
    assert refused(r, 422)
    with c.session() as s:
        assert "facilitator" in members.roles_in(s, c.people["facil"], c.assembly)


def test_invitations_of_another_body_cannot_be_revoked(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    cc = council_coordinator(c)
    with c.session() as s:
        members.invite(c.ctx.tx(s, c.people["facil"]), c.assembly, "member", 7)
        s.commit()
        iid = s.exec(select(Invitation.id)).one()
    login(client, cc.username)
    # Through the council (which the coordinator runs) and through the commune.
    assert refused(post(client, f"/b/consejo_salud/invitations/{iid}/revoke"), 404)
    assert refused(post(client, f"/b/maizal/invitations/{iid}/revoke"), 403)
    with c.session() as s:
        assert stored(s, Invitation, iid).revoked_at is None


def test_a_councils_coordinator_cannot_reset_the_communes_coordinator(node: Settings,
                                                                      client: TestClient) -> None:
    c = build_commune(node)
    cc = council_coordinator(c)
    with c.session() as s:
        # The commune's coordinator is also a plain member of the council.
        members.grant(c.ctx.tx(s), c.people["facil"], c.council, "member")
        s.commit()
    login(client, cc.username)
    r = post(client, f"/b/consejo_salud/admin/members/{c.people['facil'].id}/reset")
    assert refused(r, 403) and "/reset/" not in r.text
    # Nor by naming them coordinator of the council first and resetting after: the
    # subset rule still holds (the commune is not among the council coordinator's).
    post(client, f"/b/consejo_salud/admin/members/{c.people['facil'].id}/role",
         {"action": "grant_facilitator"})
    r = post(client, f"/b/consejo_salud/admin/members/{c.people['facil'].id}/reset")
    assert "/reset/" not in r.text
    with c.session() as s:
        assert s.exec(select(PasswordReset)).all() == []


# --- reset links ----------------------------------------------------------------------

def _link(c: Commune, by: str, target: str, body: LocalActor | None = None) -> str:
    with c.session() as s:
        raw = accounts.make_reset(c.ctx.tx(s, c.people[by] if by in c.people else
                                  s.exec(select(Member).where(Member.username == by)).one()),
                                  body or c.assembly, c.people[target])
        s.commit()
        return raw


def test_a_reset_link_works_once_and_not_late(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    raw = _link(c, "facil", "m0")
    assert use(client, raw).status_code == 200
    client.cookies.clear()
    assert use(client, raw, NEW + "2").status_code == 410
    login(client, "m0", NEW)
    client.cookies.clear()
    late = _link(c, "facil", "m1")
    with c.session() as s:
        s.execute(update(PasswordReset).where(col(PasswordReset.member_id) == c.people["m1"].id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert use(client, late).status_code == 410
    # A newer link ends the older one.
    first, second = _link(c, "facil", "m2"), _link(c, "facil", "m2")
    assert use(client, first).status_code == 410
    assert use(client, second).status_code == 200


def test_reset_tokens_are_long_and_a_guess_reads_like_a_used_link(node: Settings,
                                                                  client: TestClient) -> None:
    c = build_commune(node)
    raw = _link(c, "facil", "m0")
    assert len(raw) >= 32
    for guess in ("x", raw[:-1], raw + "a", raw.upper(), "../admin", "%00"):
        assert client.get(f"/reset/{guess}").status_code in (400, 404, 410), guess
    with c.session() as s:  # only a hash is stored
        assert s.exec(select(PasswordReset.token_hash)).one() != raw


def test_a_reset_ends_a_session_planted_before_it(node: Settings, client: TestClient) -> None:
    """Session fixation: a cookie the victim's browser already had is not the one that
    is logged in after the reset, and the old session is over."""
    c = build_commune(node)
    login(client, "m0")
    planted = client.cookies.get("comuna_session")
    raw = _link(c, "facil", "m0")
    r = use(client, raw)
    assert r.status_code == 200
    fresh = client.cookies.get("comuna_session")
    assert fresh and fresh != planted
    client.cookies.clear()
    client.cookies.set("comuna_session", planted)
    assert client.get("/account", follow_redirects=False).status_code == 303


def test_changing_the_password_needs_the_current_one(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    for form in ({"new_password": NEW, "repeat_password": NEW},
                 {"current_password": "", "new_password": NEW, "repeat_password": NEW}):
        assert refused(post(client, "/account/password", form), 403)
    bearer = client.post("/api/v1/tokens", json={"username": "m0", "password": PASSWORD}
                         ).json()["token"]
    r = client.put("/api/v1/me/password", json={"current_password": "mala-clave-larga",
                                                "new_password": NEW},
                   headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 403
    r = client.put("/api/v1/me/password", json={"new_password": NEW},
                   headers={"Authorization": f"Bearer {bearer}"})
    assert r.status_code == 422
    client.cookies.clear()
    login(client, "m0", PASSWORD)
    assert c


# --- redirects ------------------------------------------------------------------------

EVIL = ["//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example",
        "/%5Cevil.example", "/\t/evil.example", "/%09/evil.example", "%2F%2Fevil.example",
        "/ /evil.example", "javascript:alert(1)", "/\\/evil.example", " //evil.example"]


def _stays_here(location: str) -> bool:
    """Would a browser stay on this node following this Location?"""
    # Browsers drop tabs and newlines and read a backslash as a slash.
    loc = re.sub(r"[\t\n\r]", "", location).replace("\\", "/").lstrip()
    return loc.startswith("/") and not loc.startswith("//")


def test_no_redirect_leaves_the_node(node: Settings, client: TestClient) -> None:
    build_commune(node)
    for bad in EVIL:
        r = client.get("/idioma/en", params={"next": bad}, follow_redirects=False)
        assert r.status_code == 303 and _stays_here(r.headers["location"]), bad
        r = post(client, "/language", {"lang": "es", "next": bad}, follow_redirects=False)
        assert r.status_code == 303 and _stays_here(r.headers["location"]), bad
        page = client.get("/login", params={"next": bad})
        r = client.post("/login", data={"csrf": csrf(page.text), "username": "m0",
                                        "password": PASSWORD, "next": bad},
                        follow_redirects=False)
        assert r.status_code == 303 and _stays_here(r.headers["location"]), bad
        assert "evil.example" not in page.text or 'value=""' in page.text
        client.cookies.clear()


# --- notices --------------------------------------------------------------------------

def test_a_notice_is_read_by_its_own_browser_once(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    r = post(client, f"/b/maizal/admin/members/{c.people['m0'].id}/role",
             {"action": "grant_facilitator"}, follow_redirects=False)
    key = r.cookies.get("comuna_notice") or client.cookies.get("comuna_notice")
    assert key and len(key) >= 24
    with c.session() as s:
        stored = s.exec(select(WebNotice)).one()
        assert stored.key_hash != key  # the key itself is not in the database
    from starlette.testclient import TestClient

    from node.app import create_app
    from tests.conftest import NODE_URL

    with TestClient(create_app(node, background=False), base_url=NODE_URL) as other:
        # Another browser with a guessed or empty key sees nothing.
        for guess in ("", "x", key[:-1], key + "x", "A" * 65):
            other.cookies.set("comuna_notice", guess)
            assert 'role="alert"' not in other.get("/b/maizal").text
        # Stolen key: read once, then gone for everyone.
        other.cookies.set("comuna_notice", key)
        assert 'role="alert"' in other.get("/b/maizal").text
    assert 'role="alert"' not in client.get("/b/maizal").text


def test_no_password_is_ever_kept_in_a_notice(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    secret = "una-clave-secreta-larga"
    # Not followed: the next page would read the notice and delete it.
    post(client, "/account/password", {"current_password": secret, "new_password": secret,
                                       "repeat_password": secret + "x",
                                       "password": secret},
         follow_redirects=False)
    client.cookies.clear()
    raw = _link(c, "facil", "m1")
    page = client.get(f"/reset/{raw}")
    client.post(f"/reset/{raw}", data={"csrf": csrf(page.text), "new_password": secret,
                                       "repeat_password": "distinta-clave-larga"},
                follow_redirects=False)
    # The join form refused.
    client.cookies.clear()
    post(client, "/join/no-existe", {"username": "nueva", "password": secret,
                                     "display_name": "Nueva"}, follow_redirects=False)
    with c.session() as s:
        notices = s.exec(select(WebNotice)).all()
        assert len(notices) == 3
        for n in notices:
            assert secret not in n.payload, n.payload
        assert any("Nueva" in n.payload for n in notices)  # what may be kept, is


def test_kept_values_and_names_are_escaped(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    login(client, "facil")
    # Refused (a name too long), the typed description comes back escaped.
    r = post(client, "/b/maizal/admin/profile", {"name": "x" * 300, "summary": evil})
    assert refused(r, 422)
    assert "<script>alert(1)" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(1)" in r.text  # kept, as text
    # A body named like a script, shown on every page that names it.
    r = post(client, "/b/maizal/admin/profile", {"name": evil, "summary": evil})
    assert "<script>alert(1)" not in r.text
    for url in ("/b/maizal", "/b/maizal/admin", "/b/maizal/admin/members", "/"):
        assert "<script>alert(1)" not in client.get(url).text, url
    with c.session() as s:
        m = stored(s, Member, c.people["m0"].id)
        m.display_name = evil
        s.add(m)
        s.commit()
    for url in ("/b/maizal/admin/members", "/b/maizal"):
        assert "<script>alert(1)" not in client.get(url).text, url
    r = post(client, f"/b/maizal/admin/members/{c.people['m0'].id}/role",
             {"action": "grant_spokesperson"})
    assert "<script>alert(1)" not in r.text


# --- caching --------------------------------------------------------------------------

def test_personal_pages_are_never_public(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    # A visitor's page with no form may be cached.
    assert client.get("/b/maizal").headers["cache-control"].startswith("public")
    raw = _link(c, "facil", "m0")
    assert "public" not in client.get(f"/reset/{raw}").headers["cache-control"]
    login(client, "m0")
    for url in ("/b/maizal", "/account", "/", "/b/maizal/proposals/new", "/inicio"):
        r = client.get(url)
        assert "public" not in r.headers.get("cache-control", ""), url
    r = client.get("/api/v1/me/pending", headers={
        "Authorization": "Bearer " + client.post("/api/v1/tokens", json={
            "username": "m0", "password": PASSWORD}).json()["token"]})
    assert "public" not in r.headers["cache-control"]
    # A notice shown to a visitor (logged out, a refused join) is theirs alone.
    client.cookies.clear()
    r = post(client, "/join/no-existe", {"username": "x"})
    assert "public" not in r.headers["cache-control"]
    # A page with a form (a CSRF token) is not public either.
    client.cookies.clear()
    assert "public" not in client.get("/login").headers["cache-control"]


def test_api_actions_are_empty_for_a_visitor(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    from node.governance import proposals

    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, c.people["m0"]), c.assembly, "Una propuesta", "texto")
        s.commit()
        pid = p.id
    r = client.get(f"/api/v1/proposals/{pid}")
    assert r.status_code == 200
    assert r.json().get("actions", []) == []
    json.dumps(r.json())


# --- proposals: edit and withdraw by others; the pending list ---------------------------

def _draft(c: Commune, author: str, body: LocalActor | None = None) -> int:
    from node.governance import proposals

    with c.session() as s:
        p = proposals.create(c.ctx.tx(s, stored(s, Member, c.people[author].id)),
                             body or c.assembly,
                             "Borrador ajeno", "texto del borrador")
        s.commit()
        return id_of(p)


def test_only_the_author_edits_or_withdraws_a_draft(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    pid = _draft(c, "m0")
    edit = {"title": "Tomado", "text": "otro texto"}
    assert client.put(f"/api/v1/proposals/{pid}", json=edit).status_code == 401
    assert client.post(f"/api/v1/proposals/{pid}/withdrawal").status_code == 401
    for who in ("m1", "facil", "outsider"):
        h = bearer(client, who)
        assert client.put(f"/api/v1/proposals/{pid}", json=edit, headers=h).status_code == 403
        r = client.post(f"/api/v1/proposals/{pid}/withdrawal", headers=h)
        assert r.status_code == 403, who
        assert client.get(f"/api/v1/proposals/{pid}", headers=h).json()["actions"] == [] \
            or "edit" not in client.get(f"/api/v1/proposals/{pid}", headers=h).json()["actions"]
        login(client, who)
        assert refused(post(client, f"/p/{pid}/edit", edit), 403), who
        assert refused(post(client, f"/p/{pid}/withdraw"), 403), who
        client.cookies.clear()
    h = bearer(client, "m0")
    assert {"edit", "withdraw"} <= set(client.get(f"/api/v1/proposals/{pid}", headers=h)
                                       .json()["actions"])
    assert client.get(f"/api/v1/proposals/{pid}").json()["actions"] == []
    with c.session() as s:
        from node.models import Proposal

        assert stored(s, Proposal, pid).state == "draft"


def test_the_pending_list_is_ones_own(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    _draft(c, "m0")
    _draft(c, "other", c.council)
    mine = client.get("/api/v1/me/pending", headers=bearer(client, "m0")).json()["items"]
    assert [i["kind"] for i in mine] == ["draft"]
    theirs = client.get("/api/v1/me/pending", headers=bearer(client, "m1")).json()["items"]
    assert theirs == []
    assert client.get("/api/v1/me/pending").status_code == 401
