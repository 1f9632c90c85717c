"""Facilitator endpoints (JSON). Authenticated by the node's admin token until
member accounts and roles exist."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from node.activitypub.directory import expire_host_keys
from node.api.problems import Problem
from node.api.v1.outputs import FederationStatus, HostBlock, KeysExpired, Requeued, ok
from node.context import NodeContext
from node.outbox.status import federation_status, retry_failed, set_blocked

router = APIRouter(prefix="/api/v1/admin", tags=["facilitators"])


def _authorise(request: Request) -> NodeContext:
    ctx: NodeContext = request.app.state.ctx
    expected = ctx.settings.admin_token_sha256
    auth = request.headers.get("authorization", "")
    if not expected or not auth.lower().startswith("bearer "):
        raise Problem(401, "unauthenticated", "a facilitator token is required")
    given = hashlib.sha256(auth[7:].strip().encode()).hexdigest()
    if not hmac.compare_digest(given, expected):
        raise Problem(401, "unauthenticated", "the facilitator token is not valid")
    return ctx


@router.get("/federation", responses=ok(FederationStatus))
def status(request: Request) -> Response:
    ctx = _authorise(request)
    return JSONResponse(federation_status(ctx.engine))


@router.post("/hosts/{host}/expire-keys", responses=ok(KeysExpired))
def expire_keys(request: Request, host: str) -> Response:
    ctx = _authorise(request)
    count = expire_host_keys(ctx.engine, host)  # tells the other processes too
    ctx.directory.forget_host(host.lower())
    return JSONResponse({"host": host.lower(), "expired_actors": count})


def _set_block(request: Request, host: str, blocked: bool) -> Response:
    ctx = _authorise(request)
    set_blocked(ctx.engine, host, blocked)
    ctx.refresh_blocks()
    return JSONResponse({"host": host.lower(), "blocked": blocked})


@router.post("/hosts/{host}/block", responses=ok(HostBlock))
def block(request: Request, host: str) -> Response:
    return _set_block(request, host, True)


@router.post("/hosts/{host}/unblock", responses=ok(HostBlock))
def unblock(request: Request, host: str) -> Response:
    return _set_block(request, host, False)


@router.post("/deliveries/retry", responses=ok(Requeued))
def retry(request: Request, host: str | None = None) -> Response:
    ctx = _authorise(request)
    return JSONResponse({"requeued": retry_failed(ctx.engine, host)})
