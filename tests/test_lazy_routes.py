"""The JSON API and the web pages are included on the first request that needs them
(node/lazyroutes.py): nothing of them is loaded at start, and once loaded they sit
where they would have been included, for every way of reaching them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

from fastapi import APIRouter
from fastapi.routing import iter_route_contexts
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.testclient import TestClient

from node.app import create_app
from node.config import Settings
from node.lazyroutes import LazyApp, LazyRouters
from tests.conftest import NODE_URL


def _inner(app: Any) -> LazyApp:
    while not isinstance(app, LazyApp):  # not hasattr(app, "routes"): that loads them
        app = app.app
    return app


def _paths(app: Any) -> list[str]:
    paths: list[str] = []
    for ctx in iter_route_contexts(app.router.routes):
        if isinstance(ctx.route, LazyRouters):
            continue
        assert ctx.path is not None, ctx.route
        paths.append(ctx.path)
    return paths


def test_starting_the_node_loads_neither_the_json_api_nor_the_pages(node: Settings) -> None:
    code = (f"import sys; from pathlib import Path; import node.app; "
            f"from node.config import load_settings; "
            f"node.app.create_app(load_settings(Path({str(node.data_dir)!r})), background=False); "
            f"print(sorted(m for m in sys.modules if m.startswith('node.api.v1.routes') "
            f"or m.endswith('_pages') or m in ('node.api.admin', 'node.web.pages', "
            f"'jinja2')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert out.strip() == "[]"


def test_the_openapi_document_lists_the_lazy_routes_before_any_request(node: Settings) -> None:
    app = _inner(create_app(node, background=False))
    assert len(app.lazies) == 2 and not any(entry.loaded for entry in app.lazies)
    entries = app.lazies
    paths = app.openapi()["paths"]
    assert "/api/v1/tokens" in paths and "/api/v1/bodies/{handle}/proposals" in paths
    assert "/actors/{handle}/outbox" in paths  # ActivityPub, a lazy group of its own
    assert all(entry.loaded for entry in entries) and app.lazies == []


def test_routes_sit_where_they_would_have_been_included(node: Settings) -> None:
    from node.app import activitypub_routers, lazy_routers

    app = _inner(create_app(node, background=False))
    before = _paths(app)
    with TestClient(create_app(node, background=False), base_url=NODE_URL) as client:
        assert client.get("/login").status_code == 200  # a page: loads them
        loaded = _inner(client.app)
        after = _paths(loaded)
    lazy = [ctx.path for r in [*activitypub_routers(), *lazy_routers()]
            for ctx in iter_route_contexts(r.routes)]
    assert after == before + lazy
    assert not any(isinstance(r, LazyRouters) for r in loaded.router.routes)


def test_each_app_gets_the_routers_own_routes_not_copies(node: Settings) -> None:
    """FastAPI's `include_router` would build every route's validators again for each
    app at its first request (a tenth of a second or more, and a second copy of them
    in memory): the lazy entries add the routers' own route objects instead."""
    from node.app import activitypub_routers, lazy_routers

    own = [r for router in [*activitypub_routers(), *lazy_routers()] for r in router.routes]
    for _ in range(2):  # a second app in the same process shares them too
        with TestClient(create_app(node, background=False), base_url=NODE_URL) as client:
            assert client.get("/login").status_code == 200
            routes = _inner(client.app).router.routes
            assert [r for r in routes if any(r is o for o in own)] == own


def test_a_json_api_route_answers_its_first_request(client: TestClient) -> None:
    r = client.post("/api/v1/tokens", json={"username": "nadie", "password": "x" * 12})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"


def _toy_app(delay: float) -> tuple[LazyApp, list[int]]:
    """Routes /a (before), /lazy/1.. /lazy/3 from two lazy routers, /z (after); the
    loader is slow so that concurrent first requests meet it."""
    app = LazyApp()
    loads: list[int] = []

    @app.get("/a")
    def a() -> str:
        return "a"

    def load() -> list[APIRouter]:
        loads.append(1)
        time.sleep(delay)
        one, two = APIRouter(), APIRouter()
        for router, numbers in ((one, (1, 2)), (two, (3,))):
            for n in numbers:
                router.add_api_route(f"/lazy/{n}", lambda n=n: f"lazy {n}", name=f"lazy{n}")
        # the same path as a later route of `two`: the first included wins
        one.add_api_route("/shadow", lambda: "one")
        two.add_api_route("/shadow", lambda: "two")
        return [one, two]

    app.include_lazily(load)

    @app.get("/z")
    def z() -> str:
        return "z"

    return app, loads


def test_concurrent_first_requests_all_find_their_route() -> None:
    app, loads = _toy_app(delay=0.3)
    paths = ["/lazy/1", "/lazy/2", "/lazy/3", "/shadow", "/z", "/a", "/nothing"]
    answers: dict[str, tuple[int, str]] = {}
    urls: list[str] = []
    start = threading.Barrier(len(paths) + 1)

    def get(path: str) -> None:
        client = TestClient(app)  # a loop (and thread) of its own per request
        start.wait()
        r = client.get(path)
        answers[path] = (r.status_code, r.text)

    def url() -> None:
        start.wait()
        urls.append(str(app.url_path_for("lazy3")))

    threads = [threading.Thread(target=get, args=(p,)) for p in paths]
    threads.append(threading.Thread(target=url))
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert loads == [1]
    assert answers == {"/lazy/1": (200, '"lazy 1"'), "/lazy/2": (200, '"lazy 2"'),
                       "/lazy/3": (200, '"lazy 3"'), "/shadow": (200, '"one"'),
                       "/z": (200, '"z"'), "/a": (200, '"a"'),
                       "/nothing": (404, '{"detail":"Not Found"}')}
    assert urls == ["/lazy/3"]
    assert _paths(app) == ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/a",
                           "/lazy/1", "/lazy/2", "/shadow", "/lazy/3", "/shadow", "/z"]


def test_a_wrong_method_on_a_lazy_route_is_405_on_the_first_request() -> None:
    app, _ = _toy_app(delay=0.0)
    assert TestClient(app).post("/lazy/2").status_code == 405


def test_a_load_that_fails_halfway_leaves_the_route_list_as_it_was() -> None:
    """The next request tries again from the same list: no half-included routers."""
    app = LazyApp()
    attempts: list[int] = []

    class Broken(APIRouter):
        def __init__(self) -> None:
            super().__init__()
            self.add_api_route("/lazy/broken", lambda: "never")
            self.ready = True

        @property
        def routes(self) -> list[BaseRoute]:
            if self.__dict__.get("ready") and len(attempts) == 1:
                raise RuntimeError("a router failed to include")
            routes: list[BaseRoute] = self.__dict__["_routes"]
            return routes

        @routes.setter
        def routes(self, value: list[BaseRoute]) -> None:
            self.__dict__["_routes"] = value

    def load() -> list[APIRouter]:
        attempts.append(1)
        good = APIRouter()
        good.add_api_route("/lazy/good", lambda: "good")
        return [good, Broken()]

    app.include_lazily(load)
    before = list(app.router.routes)
    client = TestClient(app, raise_server_exceptions=False)
    assert client.get("/lazy/good").status_code == 500
    assert app.router.routes == before
    assert client.get("/lazy/good").json() == "good"  # loaded on the second try
    assert len(attempts) == 2


def test_the_openapi_document_is_kept_as_bytes_and_unchanged(node: Settings) -> None:
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL) as client:
        first = client.get("/api/openapi.json")
        inner = _inner(client.app)
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        assert inner.openapi_schema is None  # the bytes are kept, not FastAPI's dict
        assert client.get("/api/openapi.json").content == first.content
        # The same document as FastAPI's own answer from `app.openapi()`.
        assert first.content == JSONResponse(inner.openapi()).body
        assert first.json()["paths"]["/api/v1/tokens"]
    with TestClient(create_app(node, background=False), base_url=NODE_URL,
                    root_path="/comuna") as prefixed:
        servers = prefixed.get("/api/openapi.json").json()["servers"]
        assert servers[0] == {"url": "/comuna"}
