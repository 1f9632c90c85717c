"""Every state-changing web route checks the form's CSRF token.

The routes are read from the app itself, so a new form route without the check fails
here: each is posted with a valid session cookie of a facilitator (who may do nearly
everything) and a missing or wrong token, and must answer 403 and change nothing in
the database or the cookies."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from fastapi import FastAPI
from sqlmodel import Session
from starlette.requests import Request
from starlette.testclient import TestClient

from node.app import create_app
from node.config import Settings
from node.governance import bodies, members, proposals
from tests.conftest import NODE_URL, ctx_of
from tests.dbdigest import table_digests
from tests.pagetour import inner_app

PASSWORD = "contraseña-larga"
CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Authenticated by other means than a browser's cookie, so no CSRF token applies.
EXEMPT_PREFIXES = {"/api/": "bearer tokens (the JSON API, and the admin token)"}
EXEMPT = {
    ("POST", "/inbox"): "HTTP-signed ActivityPub inbox",
    ("POST", "/actors/{handle}/inbox"): "HTTP-signed ActivityPub inbox",
    # No cookie is read there: a bearer token only the data dir's owner can read, from
    # a loopback peer without proxy headers (refusals tested in tests/test_cli_post.py).
    ("POST", "/_local/post"): "comuna post's hand-off to the running node",
}
# The refusal as a Spanish-reading facilitator sees it (the English detail stays in the API).
REFUSAL = "El formulario venció; recargue la página e intente de nuevo."
# A well-formed token derived from another seed: what a forging page could offer.
FORGED = hashlib.sha256(b"csrf:someone-else").hexdigest()
# Plausible fields for any form, so a route without the check would act on them.
FIELDS = {"title": "Forjada", "text": "Texto forjado", "username": "intrusa",
          "password": PASSWORD, "display_name": "Intrusa", "lang": "en", "next": "/",
          "days": "3", "role": "facilitator", "choice": "for", "version": "1",
          "accept": "1", "reason": "r", "score": "5", "comment": "c", "state": "carried_out",
          "position": "approve", "spokesperson": "1", "slug": "forjada", "name": "Forjada",
          "sector": "salud", "side": "offer", "kind": "x", "quantity": "1", "unit": "unit"}


def changing_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every route that may change state, included routers resolved."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        entries: Any = app.routes
    else:
        entries = iter_route_contexts(app.routes)
    found = []
    for route in entries:
        for method in sorted((route.methods or set()) & CHANGING):
            found.append((method, route.path))
    return found


def web_routes(app: Any) -> list[tuple[str, str]]:
    return [(m, p) for m, p in changing_routes(app)
            if (m, p) not in EXEMPT and not any(p.startswith(x) for x in EXEMPT_PREFIXES)]


def snapshot(engine: Any) -> dict[str, str]:
    """Every row of every table, as a digest per table."""
    return table_digests(engine)


def fill(path: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "1"), path)


def logged_in_facilitator(client: TestClient) -> dict[str, str]:
    """A facilitator's browser session, a proposal 1 in deliberation and an unused
    invitation; returns the values for the routes' path parameters."""
    ctx = ctx_of(client)
    with Session(ctx.engine, expire_on_commit=False) as s:
        body = bodies.body_by_handle(s, ctx.primary.handle)
        facil = members.create_member(ctx.tx(s), "facil", PASSWORD, "Facilitadora")
        members.grant(ctx.tx(s), facil, body, "facilitator")
        p = proposals.create(ctx.tx(s, facil), body, "Biblioteca", "Abrir una biblioteca.",
                             own_uri=ctx.urls.actor(body.handle))
        proposals.open_deliberation(ctx.tx(s, facil), p)
        raw = members.invite(ctx.tx(s, facil), body, "member")
        s.commit()
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text)
    assert token is not None
    r = client.post("/login", data={"csrf": token.group(1), "username": "facil",
                                    "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 303 and client.cookies.get("comuna_session")
    return {"handle": ctx.primary.handle, "token": raw, "pid": str(p.id)}


def unguarded(client: TestClient, values: dict[str, str]) -> list[str]:
    """The web routes that accept a forged form, or change anything when refusing it."""
    engine = ctx_of(client).engine
    problems = []
    for method, path in web_routes(inner_app(client)):
        url = fill(path, values)
        for label, extra in (("no token", {}), ("wrong token", {"csrf": FORGED})):
            before = snapshot(engine)
            r = client.request(method, url, data={**FIELDS, **extra}, follow_redirects=False)
            changed = snapshot(engine) != before
            if r.status_code != 403 or REFUSAL not in r.text or changed or \
                    "set-cookie" in r.headers:
                problems.append(f"{method} {path} ({label}): {r.status_code}"
                                f"{', changed the database' if changed else ''}"
                                f"{', set a cookie' if 'set-cookie' in r.headers else ''}")
    return problems


def test_every_web_form_route_refuses_a_forged_form(client: TestClient) -> None:
    values = logged_in_facilitator(client)
    routes = web_routes(inner_app(client))
    # The enumeration really sees the forms (a broken one would pass vacuously).
    assert ("POST", "/p/{pid}/send-up") in routes and ("POST", "/login") in routes
    assert len(routes) >= 30, routes
    assert unguarded(client, values) == []


def test_the_exemptions_name_real_routes_only(client: TestClient) -> None:
    every = changing_routes(inner_app(client))
    assert set(EXEMPT) <= set(every), "an exemption names a route that is gone"
    for prefix in EXEMPT_PREFIXES:
        assert any(p.startswith(prefix) for _, p in every)


def test_a_form_route_without_the_check_is_caught(node: Settings) -> None:
    """The check above is not vacuous: a route that writes without checking the token
    is reported."""
    app = create_app(node, background=False)
    inner: Any = app
    while not hasattr(inner, "routes"):
        inner = inner.app
    assert isinstance(inner, FastAPI)

    @inner.post("/b/{handle}/unchecked")
    async def unchecked(request: Request, handle: str) -> dict[str, str]:
        ctx = request.app.state.ctx
        with Session(ctx.engine) as s:
            members.create_member(ctx.tx(s), "forjada", PASSWORD, "Forjada")
            s.commit()
        return {}

    with TestClient(app, base_url=NODE_URL) as client:
        values = logged_in_facilitator(client)
        assert any("/b/{handle}/unchecked" in p for p in unguarded(client, values))


def test_a_form_sent_after_logging_out_elsewhere_says_so_and_gives_the_words_back(
        client: TestClient) -> None:
    """Logged out in another tab, then the comment written here is sent: reloading (what
    the expired-form message says) would post the dead form again. The page says the
    session ended, links to the login that comes back here, and shows what was typed."""
    values = logged_in_facilitator(client)
    pid = values["pid"]
    page = client.get(f"/p/{pid}").text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    client.cookies.delete("comuna_session")  # the other tab's "Salir"
    before = snapshot(ctx_of(client).engine)
    r = client.post(f"/p/{pid}/comments", data={
        "csrf": token.group(1), "form_id": "comment",
        "text": "Propongo abrir los sábados en la mañana."}, follow_redirects=False)
    assert r.status_code == 403
    assert "Su sesión se había cerrado" in r.text and REFUSAL not in r.text
    assert "Propongo abrir los sábados en la mañana." in r.text
    assert f'href="/login?next=/p/{pid}"' in r.text
    assert snapshot(ctx_of(client).engine) == before


def test_the_invitation_form_sent_after_logging_out_says_the_session_ended(
        client: TestClient) -> None:
    """The forms whose answer is a link shown once (invitation, reset) and the statute
    preview answered a dead session with the plain expired-form refusal: they now say
    the session ended and link to the login, as every other form."""
    logged_in_facilitator(client)
    page = client.get("/b/maizal/invitations").text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    client.cookies.delete("comuna_session")
    before = snapshot(ctx_of(client).engine)
    r = client.post("/b/maizal/invitations", data={
        "csrf": token.group(1), "role": "member", "days": "7"}, follow_redirects=False)
    assert r.status_code == 403
    assert "Su sesión se había cerrado" in r.text and REFUSAL not in r.text
    assert 'href="/login?next=/b/maizal/invitations"' in r.text
    assert snapshot(ctx_of(client).engine) == before
