"""Forms whose answer is a secret shown once (an invitation, a reset link), sent again:
a reload of the answer, a double tap on a slow link. The same form makes one
invitation or one reset link, and the facilitator still sees it."""

from __future__ import annotations

import re

import httpx
from sqlmodel import select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Invitation
from node.models.members import PasswordReset
from tests.govfixtures import build_commune
from tests.pageforms import login


def _form(html: str, action: str) -> dict[str, str]:
    """The hidden fields of the form posting to `action`, as the browser would send them."""
    found = re.search(rf'<form method="post" action="{re.escape(action)}">(.*?)</form>',
                      html, re.S)
    assert found, f"no form for {action}"
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">',
                           found.group(1)))


def _link(r: httpx.Response, code_id: str) -> str:
    found = re.search(rf'<code id="{code_id}">([^<]+)</code>', r.text)
    assert found, f"no {code_id} in the answer"
    return found.group(1)


def test_the_invitation_form_sent_twice_makes_one_invitation(node: Settings,
                                                             client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    sent = {**_form(client.get("/b/maizal/invitations").text, "/b/maizal/invitations"),
            "role": "member", "days": "7"}
    first = client.post("/b/maizal/invitations", data=sent)
    assert first.status_code == 200, first.text
    link = _link(first, "invite-link")
    # The browser sends the very same form again (reload, double tap).
    again = client.post("/b/maizal/invitations", data=sent)
    assert again.status_code == 200, again.text
    with c.session() as s:
        assert len(s.exec(select(Invitation)).all()) == 1
    # Nothing is lost: the answer shows the same link, and says nothing new was made.
    assert _link(again, "invite-link") == link
    assert "no se creó otra" in again.text
    # The form on that answer is a new one: it makes a second invitation, once.
    fresh = {**_form(again.text, "/b/maizal/invitations"), "role": "member", "days": "7"}
    assert fresh["once"] != sent["once"]
    assert _link(client.post("/b/maizal/invitations", data=fresh), "invite-link") != link
    with c.session() as s:
        assert len(s.exec(select(Invitation)).all()) == 2
    # A used invitation is not shown again to a late resend; still nothing new is made.
    token = link.rsplit("/", 1)[1]
    join = client.post(f"/api/v1/invitations/{token}/accept", json={
        "username": "nueva", "password": "contraseña-larga", "display_name": "Nueva"})
    assert join.status_code == 201, join.text
    late = client.post("/b/maizal/invitations", data=sent)
    assert token not in late.text and "ya no está pendiente" in late.text
    with c.session() as s:
        assert len(s.exec(select(Invitation)).all()) == 2


def test_the_same_invitation_form_from_another_session_is_a_new_invitation(
        node: Settings, client: TestClient) -> None:
    """The link is derived from the session: a copy of the form's fields alone, sent
    from another session, names no existing invitation (CSRF refuses it anyway)."""
    c = build_commune(node)
    login(client, "facil")
    sent = {**_form(client.get("/b/maizal/invitations").text, "/b/maizal/invitations"),
            "role": "member", "days": "7"}
    link = _link(client.post("/b/maizal/invitations", data=sent), "invite-link")
    client.cookies.clear()
    login(client, "facil")
    sent["csrf"] = _form(client.get("/b/maizal/invitations").text,
                         "/b/maizal/invitations")["csrf"]
    other = _link(client.post("/b/maizal/invitations", data=sent), "invite-link")
    assert other != link
    with c.session() as s:
        assert len(s.exec(select(Invitation)).all()) == 2


def test_the_reset_form_sent_twice_makes_one_link_and_keeps_the_first(
        node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "facil")
    action = f"/b/maizal/admin/members/{c.people['m0'].id}/reset"
    sent = _form(client.get("/b/maizal/admin/members").text, action)
    first = client.post(action, data=sent)
    assert first.status_code == 200, first.text
    link = _link(first, "reset-link")
    again = client.post(action, data=sent)
    assert again.status_code == 200, again.text
    # The same link, still valid: resending did not replace the one handed over.
    assert _link(again, "reset-link") == link
    assert "no se creó otro enlace" in again.text
    with c.session() as s:
        assert len(s.exec(select(PasswordReset)).all()) == 1
    path = link.split("/reset/", 1)[1]
    assert client.get(f"/reset/{path}").status_code == 200
    # Another member's reset from the same page is that member's own link.
    other = f"/b/maizal/admin/members/{c.people['m1'].id}/reset"
    assert _link(client.post(other, data=_form(client.get("/b/maizal/admin/members").text,
                                               other)), "reset-link") != link
    with c.session() as s:
        assert len(s.exec(select(PasswordReset)).all()) == 2
