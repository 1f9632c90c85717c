"""A city and a commune as real node processes (`pair`), and a person or a client using them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.pageforms import PASSWORD, csrf
from tests.procnode import NodeProcess, wait_for


class Browser:
    """A person on one node's pages (cookies kept), logged in."""

    def __init__(self, node: NodeProcess, username: str) -> None:
        self.node, self.c = node, httpx.Client(base_url=node.url, timeout=30)
        page = self.c.get("/login")
        r = self.c.post("/login", data={"csrf": csrf(page.text), "username": username,
                                       "password": PASSWORD})
        assert r.status_code in (200, 303), r.text

    def get(self, path: str) -> str:
        r = self.c.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r.text

    def post(self, page: str, action: str, **data: str) -> httpx.Response:
        html = self.get(page)
        return self.c.post(action, data={"csrf": csrf(html), **data}, follow_redirects=True)


def first_facilitator(node: NodeProcess, username: str = "rosa") -> dict[str, str]:
    httpx.post(f"{node.url}/api/v1/invitations/{node.invitation()}/accept",
               json={"username": username, "password": PASSWORD}).raise_for_status()
    r = httpx.post(f"{node.url}/api/v1/tokens", json={"username": username,
                                                      "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['token']}"}


# Module scope: each module that imports it starts its own two nodes, shared by its tests.
@pytest.fixture(scope="module")
def pair(tmp_path_factory: Any) -> Iterator[dict[str, Any]]:
    from tests.conftest import Databases

    dbs = Databases(tmp_path_factory.mktemp("fedpages-db"))
    root = tmp_path_factory.mktemp("fedpages")
    city = NodeProcess(root, "ciudad_sur", dbs.new("ciudad_sur"), level="city")
    commune = NodeProcess(root, "maizal", dbs.new("maizal"))
    try:
        city.start()
        commune.start()
        yield {"city": city, "commune": commune, "city_head": first_facilitator(city),
               "commune_head": first_facilitator(commune)}
    finally:
        commune.stop()
        city.stop()
        dbs.drop_all()


def visible(html: str) -> str:
    """The text a person reads (no tags, no attribute values)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", html,
                                          flags=re.S))


def call(node: NodeProcess, headers: dict[str, str], method: str, path: str,
         expect: tuple[int, ...] = (200, 201, 202), **kw: Any) -> Any:
    r = httpx.request(method, f"{node.url}{path}", headers=headers, timeout=30, **kw)
    assert r.status_code in expect, (path, r.status_code, r.text)
    return r.json() if r.content else None


def ensure_joined(pair: dict[str, Any]) -> None:
    city, commune = pair["city"], pair["commune"]
    links = call(commune, pair["commune_head"], "GET", "/api/v1/bodies/maizal/federations")
    if any(x["state"] == "accepted" for x in links["items"]):
        return
    call(commune, pair["commune_head"], "POST", "/api/v1/bodies/maizal/federations",
         json={"federation": city.actor})

    def waiting() -> list[dict[str, Any]]:
        items = call(city, pair["city_head"], "GET",
                     "/api/v1/bodies/ciudad_sur/federation-members")["items"]
        return [x for x in items if x["state"] == "pending"]

    wait_for(lambda: bool(waiting()), 30, "the request arrives")
    call(city, pair["city_head"], "POST",
         f"/api/v1/bodies/ciudad_sur/federation-members/{waiting()[0]['id']}/decision",
         json={"accept": True})
    wait_for(lambda: any(x["state"] == "accepted" for x in call(
        commune, pair["commune_head"], "GET", "/api/v1/bodies/maizal/federations")["items"]),
        30, "accepted")
