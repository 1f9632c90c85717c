"""The loopback door of `comuna post` (node/handoff.py): the command hands its text to
the running node, which publishes it and wakes its delivery worker at once.

Only for the data directory's owner: the bearer token is the one `comuna serve` wrote
there (0600) for this run, and the request must come straight from this machine (a
loopback peer, no proxy's forwarding headers). Not part of the public API.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from node import handoff
from node.api.problems import problem_response
from node.errors import Problem
from node.outbox.publish import post_note

FORWARDING = (b"forwarded", b"x-forwarded-for", b"x-real-ip")


def _direct_from_loopback(request: Request) -> bool:
    if any(k.lower() in FORWARDING for k, _ in request.scope["headers"]):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _publish(ctx: Any, text: str) -> str:
    primary = ctx.actors[ctx.primary.handle]
    with Session(ctx.engine) as s:
        item = post_note(ctx.tx(s, primary), primary, text)
        activity_id: str = item.activity_id
        s.commit()
    return activity_id


async def local_post(request: Request) -> Response:
    token: str | None = getattr(request.app.state, "local_token", None)
    if token is None:
        # No `comuna serve` hand-off for this process: the door does not exist.
        return problem_response(404, "not-found", "nothing here")
    if not (handoff.authorised(token, request.headers.get("authorization"))
            and _direct_from_loopback(request)):
        return problem_response(403, "forbidden", "only the node's own command may post here")
    try:
        text = json.loads(await request.body())["text"]
    except (ValueError, KeyError, TypeError):
        text = None
    if not isinstance(text, str):
        return problem_response(422, "invalid-request", 'expected {"text": "..."}')
    ctx = request.app.state.ctx
    try:
        activity_id = await asyncio.to_thread(_publish, ctx, text)
    except Problem as exc:
        return problem_response(exc.status, exc.code, exc.detail)
    return JSONResponse({"id": activity_id}, status_code=201)
