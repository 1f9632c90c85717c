"""What every page shares: the notice a form leaves for the next page, compression,
cache headers, the icon."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.config import Settings
from node.models import WebNotice
from node.models.base import utcnow
from tests.conftest import ctx_of
from tests.govfixtures import build_commune
from tests.pageforms import csrf, login


def test_a_refused_form_comes_back_with_why_and_what_was_typed_once(node: Settings,
                                                                    client: TestClient) -> None:
    build_commune(node)
    login(client, "outsider")
    page = client.get("/b/maizal")
    r = client.post("/b/maizal/proposals", data={
        "csrf": csrf(page.text), "title": "Biblioteca popular", "text": "Abrir una biblioteca.",
        "password": "no-se-guarda"}, follow_redirects=False)
    assert r.status_code == 303 and "comuna_notice" in r.headers["set-cookie"]
    with Session(ctx_of(client).engine) as s:
        stored = json.loads(s.exec(select(WebNotice)).one().payload)
    assert stored["form"] == {"title": "Biblioteca popular", "text": "Abrir una biblioteca."}
    assert stored["status"] == 403 and "password" not in json.dumps(stored)
    shown = client.get(r.headers["location"])
    assert 'role="alert" data-status="403"' in shown.text
    assert shown.headers["cache-control"] == "private, no-cache"
    # Read once: the row is gone and the next page says nothing.
    with Session(ctx_of(client).engine) as s:
        assert s.exec(select(WebNotice)).all() == []
    assert "data-status=" not in client.get(r.headers["location"]).text


def test_an_action_that_worked_says_so(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "m0")
    page = client.get("/b/maizal")
    r = client.post("/b/maizal/proposals", data={"csrf": csrf(page.text), "title": "Huerto",
                                                 "text": "Un huerto escolar."})
    assert r.status_code == 200 and 'role="status"' in r.text


def test_notices_nobody_came_back_for_are_dropped(node: Settings, client: TestClient) -> None:
    build_commune(node)
    with Session(ctx_of(client).engine) as s:
        s.add(WebNotice(key_hash="x" * 64, payload="{}",
                        created_at=utcnow() - timedelta(hours=1)))
        s.commit()
    client.cookies.set("comuna_notice", "anything")
    client.get("/b/maizal")
    with Session(ctx_of(client).engine) as s:
        assert s.exec(select(WebNotice)).all() == []


def test_pages_are_compressed_and_public_ones_cached(node: Settings, client: TestClient) -> None:
    build_commune(node)
    r = client.get("/b/maizal", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["cache-control"] == "public, max-age=60" and "set-cookie" not in r.headers
    assert "Cookie" in r.headers["vary"]
    raw = client.get("/b/maizal", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers and raw.text == r.text
    # A page with a form carries a CSRF token tied to a cookie: never shared.
    login_page = client.get("/login")
    assert login_page.headers["cache-control"] == "private, no-cache"
    login(client, "m0")
    assert client.get("/b/maizal").headers["cache-control"] == "private, no-cache"


def test_the_inbox_and_form_posts_are_not_compressed(node: Settings, client: TestClient) -> None:
    build_commune(node)
    r = client.post("/inbox", content=b"{}", headers={
        "Accept-Encoding": "gzip", "Content-Type": "application/activity+json"})
    assert "content-encoding" not in r.headers


def test_the_icon_answers_and_every_page_links_it(node: Settings, client: TestClient) -> None:
    build_commune(node)
    for path in ("/favicon.ico", "/favicon.svg"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert "max-age" in r.headers["cache-control"]
    assert 'rel="icon" href="/favicon.svg"' in client.get("/b/maizal").text


def test_the_form_token_reads_differently_on_every_page(node: Settings, client: TestClient) -> None:
    build_commune(node)
    login(client, "m0")
    first, second = (csrf(client.get("/b/maizal/proposals/new").text) for _ in range(2))
    assert first != second and len(first) == 128
    # Both are good; the same bytes altered are not.
    for token in (first, second):
        r = client.post("/b/maizal/proposals", data={"csrf": token, "title": "Huerto",
                                                     "text": "Un huerto."})
        assert 'role="status"' in r.text
    forged = first[:64] + ("0" if first[64] != "0" else "1") + first[65:]
    r = client.post("/b/maizal/proposals", data={"csrf": forged, "title": "X", "text": "Y"})
    assert r.status_code == 403
