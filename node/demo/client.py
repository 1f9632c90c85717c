"""The demo's people, speaking to their node's JSON API as a custom client would."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from node.demo.nodes import DemoFailed, DemoNode

# Every demo account shares it: they exist only on loopback, for looking around.
PASSWORD = "comuna-demo-2026"  # noqa: S105


@dataclass
class Person:
    node: DemoNode
    username: str
    name: str
    token: str
    id: int

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 202),
             **kw: Any) -> Any:
        r = httpx.request(method.upper(), f"{self.node.url}{path}", timeout=30,
                          headers={"Authorization": f"Bearer {self.token}",
                                   "Accept-Language": "es"}, **kw)
        if r.status_code not in expect:
            detail = r.json().get("detail", r.text) if r.content else r.reason_phrase
            raise DemoFailed(f"{self.node.name}: {method.upper()} {path} → "
                             f"{r.status_code}: {detail}")
        return r.json() if r.content else None

    def get(self, path: str) -> Any:
        return self.call("get", path)

    def post(self, path: str, body: dict[str, Any] | None = None,
             expect: tuple[int, ...] = (200, 201, 202)) -> Any:
        return self.call("post", path, json=body or {}, expect=expect)


def join(node: DemoNode, token: str, username: str, name: str, family: str) -> Person:
    """Accept an invitation, then log in for an API token."""
    r = httpx.post(f"{node.url}/api/v1/invitations/{token}/accept", timeout=30, json={
        "username": username, "password": PASSWORD, "display_name": name,
        "family": family})
    if r.status_code != 201:
        raise DemoFailed(f"{node.name}: {username} no pudo unirse: {r.text}")
    r = httpx.post(f"{node.url}/api/v1/tokens", timeout=30,
                   json={"username": username, "password": PASSWORD})
    if r.status_code != 201:
        raise DemoFailed(f"{node.name}: {username} no pudo entrar: {r.text}")
    token = r.json()["token"]
    me = httpx.get(f"{node.url}/api/v1/me", timeout=30,
                   headers={"Authorization": f"Bearer {token}"}).json()
    return Person(node, username, name, token, int(me["id"]))


def wait(until: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Until `until()` is truthy (its value is returned); the demo stops if it never is."""
    deadline = time.monotonic() + timeout
    while True:
        got = until()
        if got:
            return got
        if time.monotonic() > deadline:
            raise DemoFailed(f"se esperó {timeout:.0f} s y no ocurrió: {what}")
        time.sleep(0.25)
