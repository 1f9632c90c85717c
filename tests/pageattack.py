"""Attacking the pages in-process: forms posted as no page offered them, reset links, tokens."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.testclient import TestClient

from node.governance import members
from node.models import Member
from tests.govfixtures import Commune
from tests.pageforms import PASSWORD, csrf

NEW = "otra-clave-muy-larga"  # the password the attacks try to set


def token(client: TestClient) -> str:
    """The CSRF token the login page carries (any page of the session would do)."""
    return csrf(client.get("/login").text)


def post(client: TestClient, url: str, data: dict[str, str] | None = None, **kw: Any
         ) -> httpx.Response:
    """A form sent with a valid token, wherever the form is offered or not."""
    r: httpx.Response = client.post(url, data={"csrf": token(client), **(data or {})}, **kw)
    return r


def council_coordinator(c: Commune, name: str = "coordcons") -> Member:
    """A coordinator of the commune's council (who is a plain member of nothing else)."""
    with c.session() as s:
        m = members.create_member(c.ctx.tx(s), name, PASSWORD, "Coordina el consejo")
        members.grant(c.ctx.tx(s), m, c.council, "facilitator")
        s.commit()
        return m


def use(client: TestClient, raw: str, password: str = NEW) -> httpx.Response:
    """The reset link `raw` opened and its form sent (or the page, if it offers no form)."""
    page: httpx.Response = client.get(f"/reset/{raw}")
    if page.status_code != 200:
        return page
    r: httpx.Response = client.post(f"/reset/{raw}", data={
        "csrf": csrf(page.text), "new_password": password, "repeat_password": password})
    return r


def bearer(client: TestClient, username: str) -> dict[str, str]:
    """A new API token of `username`, as request headers."""
    raw = client.post("/api/v1/tokens", json={"username": username, "password": PASSWORD}
                      ).json()["token"]
    return {"Authorization": f"Bearer {raw}"}
