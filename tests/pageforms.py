"""Driving the pages' forms in-process: the CSRF token a page carries, logging in, and
posting a form the way a browser would."""

from __future__ import annotations

import re

import httpx
from starlette.testclient import TestClient

PASSWORD = "contraseña-larga"  # every test account's (tests/govfixtures.py)


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, html[:500]
    return found.group(1)


def try_login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """The login form sent; the answer, whatever it is."""
    page = client.get("/login")
    r: httpx.Response = client.post(
        "/login", data={"csrf": csrf(page.text), "username": username, "password": password},
        follow_redirects=False)
    return r


def login(client: TestClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Logged in, or the test fails here."""
    r = try_login(client, username, password)
    assert r.status_code == 303, r.text
    return r


def post(client: TestClient, url: str, data: dict[str, str] | None = None, page: str = "/login"
         ) -> httpx.Response:
    """A form sent with the CSRF token of `page` (any page of the session carries it)."""
    r: httpx.Response = client.post(url, data={"csrf": csrf(client.get(page).text),
                                               **(data or {})})
    return r
