"""Posting the economy page's forms in-process, with the CSRF token that page carries."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.testclient import TestClient

from tests.pageforms import csrf


def post(client: TestClient, path: str, data: dict[str, Any], follow: bool = False
         ) -> httpx.Response:
    page = client.get("/b/maizal/economy")
    r: httpx.Response = client.post(path, data={"csrf": csrf(page.text), **data},
                                    follow_redirects=follow)
    return r
