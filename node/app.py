"""The ASGI application: web pages, JSON API, ActivityPub endpoints, inbox."""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from node import handoff, memory
from node.api.compress import Compress
from node.api.cors import ApiCors
from node.api.discovery import Discovery
from node.api.forwarded import ForwardedMiddleware
from node.api.jsondepth import JsonDepthMiddleware
from node.api.nulguard import RefuseNul
from node.background import loops as background_loops
from node.config import Settings, load_settings
from node.context import NodeContext, build_context
from node.inbox.endpoint import make_inbox_endpoint
from node.inbox.writer import InboxWriter
from node.lazyroutes import LazyApp
from node.models import LocalActor
from node.outbox.delivery import DeliveryWorker
from node.web.errorpages import install as install_error_handlers

log = logging.getLogger("comuna")


def wants_page(request: Request) -> bool:
    """A browser's page or form, as opposed to the JSON API and ActivityPub: those
    always get problem+json."""
    path = request.url.path
    if path.startswith(("/api/", "/inbox", "/.well-known/", "/nodeinfo", "/_local/")) \
            or path.endswith("/inbox"):
        return False
    kind = request.headers.get("content-type", "")
    return kind.startswith("application/x-www-form-urlencoded") or \
        "text/html" in request.headers.get("accept", "")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def local_post(request: Request) -> Response:
    """`comuna post`'s hand-off; publishing (and its signing of objects) loads with
    the first post."""
    from node.api.local import local_post as post

    return await post(request)


def activitypub_routers() -> list[APIRouter]:
    """Discovery, actors, collections and objects: on their first request."""
    from node.api import activitypub

    return [activitypub.router]


def lazy_routers() -> list[APIRouter]:
    """The facilitators' admin API, the JSON API and the web pages, in the order they
    are matched. Imported on the first request that needs them (node/lazyroutes.py),
    not at start."""
    from node.api import admin
    from node.api.v1 import (
        routes_accounts,
        routes_assemblies,
        routes_bodies,
        routes_economy,
        routes_events,
        routes_exports,
        routes_federations,
        routes_matters,
        routes_projects,
        routes_proposals,
    )
    from node.web import (
        account_pages,
        acta_pages,
        admin_pages,
        assembly_pages,
        economy_pages,
        federation_pages,
        frame_pages,
        gov_pages,
        matter_pages,
        meeting_pages,
        pages,
        project_pages,
        proposal_new_pages,
        proposal_pages,
    )

    return [admin.router, routes_accounts.router, routes_bodies.router,
            routes_proposals.router, routes_federations.router, routes_matters.router,
            routes_economy.router, routes_projects.router, routes_exports.router,
            routes_events.router, routes_assemblies.router, pages.router,
            account_pages.router, gov_pages.router, proposal_pages.router,
            meeting_pages.router, matter_pages.router, economy_pages.router,
            project_pages.router, proposal_new_pages.router,
            admin_pages.router, federation_pages.router, assembly_pages.router,
            frame_pages.router, acta_pages.router]


def create_app(settings: Settings | None = None, store_inbox: bool = True,
               background: bool | None = None) -> Any:
    """Build the app. `store_inbox=False` exists only for the benchmark's floor."""
    settings = settings or load_settings()
    run_background = settings.background if background is None else background

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = build_context(settings)
        app.state.ctx = ctx
        # The token `comuna serve` wrote for this run (None when started otherwise).
        local = handoff.read(settings.data_dir)
        app.state.local_token = local.token if local else None
        writer = InboxWriter(ctx.engine, on_commit=ctx.inbox_wakeup.set) if store_inbox else None
        app.state.inbox_writer = writer
        if writer:
            writer.start()
        stop = asyncio.Event()
        tasks = []
        if run_background:
            # The inbox processor, the vote clock, the send-up retries and the economy
            # pass are imported when they first have work (node/background.py).
            tasks = [asyncio.create_task(DeliveryWorker(ctx).run(stop)),
                     *(asyncio.create_task(c) for c in background_loops(ctx, stop))]
        tasks.append(asyncio.create_task(memory.trim_after_bursts(stop)))
        try:
            yield
        finally:
            stop.set()
            ctx.inbox_wakeup.set()
            ctx.delivery_wakeup.set()
            ctx.economy_wakeup.set()
            for t in tasks:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(t, 10)
            if writer:
                await writer.stop()
            await ctx.fetcher.client.aclose()
            ctx.engine.dispose()

    app = LazyApp(
        title="Comuna",
        version="0.1.0",
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        # FastAPI's own OpenTelemetry hooks ask for the global providers at every request
        # (three environment lookups that raise and catch KeyError, 3.4 µs) and wrap
        # every endpoint; a node exports no telemetry, so they are off.
        telemetry={"tracing": False, "metrics": False, "logs": False,
                   "operation_spans": False},
    )

    # Refusals and errors: a page in the reader's language for a browser, problem+json
    # (in Spanish on Accept-Language: es) for the API, ActivityPub and the inbox.
    install_error_handlers(app, wants_page)

    # A plain route: FastAPI's first route loads what it needs to check parameters
    # (see node/lazyroutes.py), which a health check does not need.
    app.router.routes.append(Route("/healthz", healthz, methods=["GET"]))

    app.router.routes.append(Route("/inbox", make_inbox_endpoint(shared=True),
                                   methods=["POST"]))
    app.router.routes.append(Route("/actors/{handle}/inbox", make_inbox_endpoint(shared=False),
                                   methods=["POST"]))
    app.router.routes.append(Route(handoff.POST_PATH, local_post, methods=["POST"]))
    app.include_lazily(activitypub_routers)

    def html_profile(request: Request, ctx: NodeContext, body: LocalActor) -> Response:
        # A person's browser asking for an actor gets the profile page; the ActivityPub
        # routes call this rather than import the pages. Jinja loads on first use.
        from node.web.pages import render_profile

        return render_profile(request, ctx, body)

    app.state.html_profile = html_profile

    def html_object(request: Request, ctx: NodeContext, doc: dict[str, Any]) -> Response:
        from node.web.pages import render_object

        return render_object(request, ctx, doc)

    app.state.html_object = html_object

    def with_login_limiter() -> list[APIRouter]:
        # One login limiter for the web and the API doors, so failures count together;
        # made with them, as nothing else logs in (its module loads argon2).
        from node.governance.members import LoginLimiter

        app.state.login_limiter = LoginLimiter()
        return lazy_routers()

    app.include_lazily(with_login_limiter)
    trusted = {h.strip() for h in settings.trusted_proxies.split(",") if h.strip()}
    return ForwardedMiddleware(Discovery(ApiCors(RefuseNul(JsonDepthMiddleware(Compress(app))))),
                               trusted)


def app_factory() -> Any:
    """Entry for `uvicorn --factory` (several worker processes read COMUNA_* env)."""
    logging.basicConfig(level=os.environ.get("COMUNA_LOG_LEVEL", "INFO"))
    memory.limit_arenas()  # before the server and the thread pools start threads
    if hasattr(signal, "SIGUSR1"):
        # `kill -USR1 PID` writes every thread's stack to the log: how an operator (or a
        # test) sees where a stuck node is waiting.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    return create_app()
