"""Routers included on the first request that reaches them.

The JSON API (`node/api/v1`), the admin API and the web pages build their pydantic
validators when their modules are imported: about 5 MB of a node's idle memory,
which a node that only federates (or waits for its members) does not use. The
ActivityPub reads are a group of their own (FastAPI's first route with parameters
loads `pydantic.v1` to check them, 1.4 MB): a node loads them when a peer or a
person first asks for one of its documents. Their
place among the routes is held by one `LazyRouters` entry; the first request that
gets that far (or the first look at `app.routes`, `app.openapi()` or
`url_path_for`) imports them and puts their included routers where the entry was,
in the same order as if they had been included at start. Routes before the entry
(health, inbox, ActivityPub, the `comuna post` hand-off) never wait for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, NoMatchFound, Route
from starlette.types import Receive, Scope, Send


class LazyRouters(BaseRoute):
    def __init__(self, app: FastAPI, load: Callable[[], Sequence[APIRouter]]) -> None:
        self.app = app
        self._load = load
        # Requests from several threads (test clients, `app.openapi()` beside a
        # request) may reach the entry at once: one imports, the others wait for it.
        self._lock = threading.Lock()
        self._routes: list[BaseRoute] = []
        self.loaded = False

    def ensure(self) -> None:
        if self.loaded:
            return
        with self._lock:
            if self.loaded:
                return
            routes = self.app.router.routes
            before = list(routes)
            try:
                for router in self._load():
                    # The router's own route objects, built once when its module was
                    # imported, rather than `include_router`: FastAPI builds an
                    # included router's validators again for every app, at its first
                    # request (a tenth of a second each, and every test makes an app).
                    # Our routers carry their prefix, tags and defaults themselves. The
                    # routes are shared by every app of a process, so
                    # `app.dependency_overrides` does not reach them.
                    routes.extend(router.routes)
            except BaseException:
                # Half a load would leave routes behind the entry; the next request
                # tries again from the same list.
                routes[:] = before
                raise
            added = routes[len(before):]
            at = before.index(self)
            # One assignment, so a router iterating the list meanwhile sees either
            # this entry or the routes that replace it, never neither.
            routes[:] = before[:at] + added + before[at + 1:]
            self._routes = added
            self.loaded = True

    # A router loop that met this entry goes on with the entry's successor in the list,
    # which is by then the second route loaded: the entry answers for the first.
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        self.ensure()
        if not self._routes:
            return Match.NONE, {}
        return self._routes[0].matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._routes[0].handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        self.ensure()
        for route in self._routes:
            try:
                return route.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)

    def __repr__(self) -> str:
        return f"LazyRouters(loaded={self.loaded})"


class LazyApp(FastAPI):
    """FastAPI whose route list and OpenAPI document include the lazy routers."""

    lazy: LazyRouters | None = None  # the last included

    @property
    def lazies(self) -> list[LazyRouters]:
        return [r for r in self.router.routes if isinstance(r, LazyRouters)]

    def include_lazily(self, load: Callable[[], Sequence[APIRouter]]) -> LazyRouters:
        self.lazy = LazyRouters(self, load)
        self.router.routes.append(self.lazy)
        return self.lazy

    def load_lazy(self) -> None:
        # In their order in the list, as a request meets them.
        for entry in self.lazies:
            entry.ensure()

    @property
    def routes(self) -> list[BaseRoute]:
        self.load_lazy()
        return super().routes

    def openapi(self) -> dict[str, Any]:
        self.load_lazy()
        return super().openapi()

    # The OpenAPI document as the bytes it is sent as, not FastAPI's dict (2.3 MB of
    # small objects for as long as the process lives). `openapi()` still answers the
    # dict, made again when asked for.
    _openapi_bytes: bytes = b""
    _openapi_routes: tuple[int, ...] = ()

    def setup(self) -> None:
        super().setup()
        routes = self.router.routes
        for i, route in enumerate(routes):
            if isinstance(route, Route) and self.openapi_url and \
                    route.path == self.openapi_url:
                routes[i] = Route(self.openapi_url, self._openapi_document, name="openapi",
                                  include_in_schema=False)

    async def _openapi_document(self, request: Request) -> Response:
        self.load_lazy()
        # The route list as the document was made from it; a route added since (only
        # tests do) makes it again.
        current = tuple(map(id, self.router.routes))
        if not self._openapi_bytes or current != self._openapi_routes:
            self._openapi_bytes = bytes(JSONResponse(super().openapi()).body)
            self._openapi_routes = current
            self.openapi_schema = None
        root_path = request.scope.get("root_path", "").rstrip("/")
        if root_path and self.root_path_in_servers:
            # Served under a prefix: named among the servers, as FastAPI does.
            schema = json.loads(self._openapi_bytes)
            if root_path not in {s.get("url") for s in schema.get("servers", [])}:
                schema["servers"] = [{"url": root_path}, *schema.get("servers", [])]
            return JSONResponse(schema)
        return Response(self._openapi_bytes, media_type="application/json")
