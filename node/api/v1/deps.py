"""Request-scoped helpers: database session, the calling member, ETags, cursors."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from node.context import NodeContext
from node.errors import Problem
from node.governance.members import LoginLimiter, member_for_token
from node.models import Member
from node.tx import Tx


def ctx(request: Request) -> NodeContext:
    c: NodeContext = request.app.state.ctx
    return c


def db(request: Request) -> Iterator[Session]:
    with Session(ctx(request).engine, expire_on_commit=False) as session:
        yield session


def limiter(request: Request) -> LoginLimiter:
    # The same instance the web login uses: failures through either door count together.
    found: LoginLimiter = request.app.state.login_limiter
    return found


def optional_member(request: Request, session: Session = Depends(db)) -> Member | None:
    auth = request.headers.get("authorization", "")
    if not auth:
        return None
    if not auth.lower().startswith("bearer "):
        raise Problem(401, "unauthenticated", "use Authorization: Bearer TOKEN")
    member = member_for_token(session, auth[7:].strip())
    if member is None:
        raise Problem(401, "bad-token", "the token is unknown or revoked")
    return member


def member_required(member: Member | None = Depends(optional_member)) -> Member:
    if member is None:
        raise Problem(401, "unauthenticated", "send Authorization: Bearer TOKEN")
    return member


def json_with_etag(request: Request, data: Any, status: int = 200) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str).encode()
    tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if status == 200 and tag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, status_code=status, media_type="application/json",
                    headers={"ETag": tag, "Cache-Control": "private, no-cache"})


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        after = value["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Problem(400, "bad-cursor", "the cursor is not one this API gave out") from exc
    # Only an id the database can hold: a float, a bool or a number past 64 bits
    # (1e400, 10**30) would otherwise fail in int() or in the query, as a 500.
    if type(after) is not int or not 0 <= after < 2**63:
        raise Problem(400, "bad-cursor", "the cursor is not one this API gave out")
    return after


def encode_cursor(after: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def page(items: list[Any], limit: int, key: str = "id") -> dict[str, Any]:
    """Items come in ascending `key` order, one more than `limit` if there is a next page."""
    more = len(items) > limit
    items = items[:limit]
    return {"items": items,
            "next_cursor": encode_cursor(items[-1][key]) if more and items else None}


def member_tx(request: Request, member: Member = Depends(member_required),
              session: Session = Depends(db)) -> Tx:
    """The unit of work of a member's request: their session, acted by them."""
    return ctx(request).tx(session, member)
