"""Member pages over HTTP: sessions, CSRF, language, and the rules behind the forms."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import Proposal, Vote
from node.web.i18n import catalog
from tests.conftest import ctx_of
from tests.govfixtures import build_commune
from tests.helpers import refused
from tests.pageforms import PASSWORD, csrf, login


def test_every_page_string_has_an_english_translation() -> None:
    root = Path(__file__).parent.parent / "node" / "web"
    sources = list((root / "templates").glob("*.html")) + list(root.glob("*.py"))
    found = set()
    for f in sources:
        found |= {m.group(2) for m in re.finditer(r"""_\(\s*(['"])(.+?)\1\s*\)""",
                                                   f.read_text())}
    missing = found - set(catalog("en"))
    assert len(found) > 50 and not missing, missing


def test_login_needs_csrf_and_right_password(node: Settings, client: TestClient) -> None:
    build_commune(node)
    r = client.post("/login", data={"username": "m0", "password": PASSWORD})
    assert r.status_code == 403  # no CSRF token
    page = client.get("/login")
    r = client.post("/login", data={"csrf": csrf(page.text), "username": "m0",
                                    "password": "wrong-password"})
    assert r.status_code == 401 and "incorrectos" in r.text
    login(client, "m0")
    assert "Miembro 0" in client.get("/b/maizal").text


def test_member_proposes_and_votes_through_forms(node: Settings, client: TestClient) -> None:
    c = build_commune(node)
    login(client, "m0")
    page = client.get("/b/maizal/proposals/new")
    r = client.post("/b/maizal/proposals", data={"csrf": csrf(page.text), "title": "Biblioteca",
                                                 "text": "Abrir una biblioteca."},
                    follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    detail = client.get(url)
    assert "Biblioteca" in detail.text and "Borrador" in detail.text
    client.post(f"{url}/deliberation", data={"csrf": csrf(detail.text)})
    # A member who is not a facilitator cannot open the vote; the refusal says why.
    r = client.post(f"{url}/vote-open", data={"csrf": csrf(detail.text), "days": "3"})
    assert refused(r, 403) and "coordinación" in r.text
    client.post("/logout", data={"csrf": csrf(detail.text)})
    login(client, "facil")
    detail = client.get(url)
    client.post(f"{url}/vote-open", data={"csrf": csrf(detail.text), "days": "3"})
    detail = client.get(url)
    assert "Su voto" in detail.text
    r = client.post(f"{url}/ballot", data={"csrf": csrf(detail.text), "version": "1",
                                           "choice": "for"}, follow_redirects=False)
    assert r.status_code == 303
    with Session(c.ctx.engine) as s:
        assert [v.choice for v in s.exec(select(Vote)).all()] == ["for"]
        assert s.exec(select(Proposal)).one().state == "vote"


def test_forms_refuse_outsiders_and_change_nothing(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "m0")
    page = client.get("/b/maizal/proposals/new")
    client.post("/b/maizal/proposals", data={"csrf": csrf(page.text), "title": "X",
                                             "text": "Y"})
    client.post("/logout", data={"csrf": csrf(page.text)})
    login(client, "outsider")
    page = client.get("/b/maizal")
    r = client.post("/b/maizal/proposals", data={"csrf": csrf(page.text), "title": "Z",
                                                 "text": "W"})
    assert refused(r, 403)
    r = client.post("/p/1/comments", data={"csrf": csrf(page.text), "text": "hola"})
    assert refused(r, 403) or refused(r, 409)
    with Session(ctx_of(client).engine) as s:
        assert len(s.exec(select(Proposal)).all()) == 1


def test_language_switch(node: Settings, client: TestClient) -> None:
    build_commune(node)
    page = client.get("/b/maizal")
    assert 'lang="es"' in page.text and "Integrantes" in page.text
    # A visitor switches with a plain link (no form, so the page stays cacheable).
    assert 'href="/idioma/en?next=/b/maizal"' in page.text and 'name="csrf"' not in page.text
    page = client.get("/idioma/en?next=/b/maizal")
    assert 'lang="en"' in page.text and "Members" in page.text
    assert client.get("/idioma/en?next=//evil.example", follow_redirects=False
                      ).headers["location"] == "/"
    # A logged-in member's choice is remembered on the account.
    login(client, "m0")
    client.cookies.delete("lang")
    page = client.get("/b/maizal")
    client.post("/language", data={"csrf": csrf(page.text), "lang": "en", "next": "/"})
    client.cookies.delete("lang")
    assert 'lang="en"' in client.get("/b/maizal").text
