"""The event feed for custom clients (an SMS gateway, a radio station's board, a chat
bot): what concerns the member's bodies, as a page (`GET /events`) or as a
Server-Sent Events stream (`GET /events/stream`) whose `id:` is the cursor, so a
client that reconnects with `Last-Event-ID` misses nothing and sees nothing twice."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncGenerator
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sqlmodel import Session
from starlette.responses import Response, StreamingResponse

from node import events
from node.api.v1.deps import (
    ctx,
    db,
    decode_cursor,
    encode_cursor,
    json_with_etag,
    member_required,
    page,
)
from node.api.v1.outputs import PROBLEMS, Out, Page, ok
from node.context import NodeContext
from node.errors import Problem, forbidden
from node.governance.authz import require_read
from node.governance.bodies import body_by_handle
from node.governance.members import member_for_token, roles_in
from node.models import Event, Member

router = APIRouter(prefix="/api/v1", tags=["events"])

# A stream reads the database again this often even when nothing woke it: another
# process of the node (a worker, another web process) may have written events whose
# wake-up does not reach this one.
POLL_SECONDS = 5.0
# A comment line this often keeps proxies and phones' networks from closing an idle
# stream, and lets the server notice a client that left.
HEARTBEAT_SECONDS = 15.0
# What a client that lost the stream waits before reconnecting (EventSource's `retry`).
RETRY_MS = 3000
BATCH = 100
# Open streams one token may hold in this process: enough for a person's phone,
# laptop and a bot; a client that reconnects in a loop without closing cannot pin
# the node's connections and database reads.
MAX_STREAMS_PER_TOKEN = 4
# Streams open now, by a hash of their token.
_OPEN: dict[str, int] = {}


class _Counted:
    """An event stream counted against its token until it ends, is closed, or is
    dropped without ever being read (a client gone before the answer started)."""

    def __init__(self, key: str, stream: AsyncGenerator[str, None]) -> None:
        self.key, self.stream, self.counted = key, stream, True
        _OPEN[key] = _OPEN.get(key, 0) + 1

    def __aiter__(self) -> _Counted:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.stream.__anext__()
        except BaseException:  # its end, a client that left (cancelled), a failure
            self.release()
            raise

    async def aclose(self) -> None:
        self.release()
        await self.stream.aclose()

    def release(self) -> None:
        if self.counted:
            self.counted = False
            left = _OPEN.get(self.key, 1) - 1
            if left > 0:
                _OPEN[self.key] = left
            else:
                _OPEN.pop(self.key, None)

    def __del__(self) -> None:
        self.release()


class EventOut(Out):
    id: int
    cursor: str
    kind: str
    body: str
    subject: str
    text: str
    data: dict[str, Any]
    created_at: str


def _out(row: Event) -> dict[str, Any]:
    return {**events.view(row), "cursor": encode_cursor(row.id or 0)}


def _body_filter(session: Session, member: Member, handle: str | None) -> int | None:
    if not handle:
        return None
    body = body_by_handle(session, handle)
    require_read(session, member, body)
    if "member" not in roles_in(session, member, body):
        raise forbidden(f"only members of {body.handle} may do this")
    return body.id


@router.get("/events", responses=ok(Page[EventOut]))
def list_events(request: Request, cursor: str | None = None,
                limit: int = Query(50, ge=1, le=200), body: str | None = None,
                member: Member = Depends(member_required),
                session: Session = Depends(db)) -> Response:
    """What concerns the member's bodies (and them by name), oldest first; `cursor`
    from the last item handled (or `next_cursor`) resumes; `body` keeps one body's."""
    after = decode_cursor(cursor)
    body_id = _body_filter(session, member, body)
    rows = events.feed(session, member.id or 0, body_id, after, limit)
    return json_with_etag(request, page([_out(r) for r in rows], limit))


def _start(c: NodeContext, token: str, handle: str | None, after: int | None
           ) -> tuple[int, int | None]:
    """Who asks (401 otherwise), which body (404/403), and from where: the cursor
    given, else the newest event now, so a new stream hears only what comes next."""
    with Session(c.engine) as s:
        member = member_for_token(s, token)
        if member is None:
            raise Problem(401, "bad-token", "the token is unknown or revoked")
        body_id = _body_filter(s, member, handle)
        return (after if after is not None else events.last_id(s)), body_id


def _read(c: NodeContext, token: str, body_id: int | None, after: int
          ) -> list[dict[str, Any]] | None:
    """The next events, or None once the token no longer works (revoked meanwhile)."""
    with Session(c.engine) as s:
        member = member_for_token(s, token)
        if member is None:
            return None
        return [_out(r) for r in events.feed(s, member.id or 0, body_id, after, BATCH)]


def _frame(item: dict[str, Any]) -> str:
    return f"id: {item['cursor']}\ndata: {json.dumps(item, ensure_ascii=False)}\n\n"


async def _stream(c: NodeContext, token: str, body_id: int | None, after: int
                  ) -> AsyncGenerator[str, None]:
    yield f"retry: {RETRY_MS}\n: comuna\n\n"
    wakeup = c.events_wakeup
    sent = time.monotonic()
    while True:
        # Taken before reading: a commit while we read wakes the wait below at once.
        generation = wakeup.generation
        items = await asyncio.to_thread(_read, c, token, body_id, after)
        if items is None:
            return
        for item in items[:BATCH]:
            after = item["id"]
            yield _frame(item)
        if items:
            sent = time.monotonic()
        if len(items) > BATCH:
            continue
        quiet = time.monotonic() - sent
        if quiet >= HEARTBEAT_SECONDS:
            yield ": keep-alive\n\n"
            sent, quiet = time.monotonic(), 0.0
        await wakeup.wait_past(generation, min(POLL_SECONDS, HEARTBEAT_SECONDS - quiet))


@router.get("/events/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}},
                             "description": "Server-Sent Events: each `data:` is an event "
                                            "as in GET /api/v1/events, `id:` its cursor"},
                       **PROBLEMS})
async def stream_events(request: Request, cursor: str | None = None, body: str | None = None,
                        last_event_id: str | None = Header(None)) -> StreamingResponse:
    """The same events as they happen. `Last-Event-ID` (sent by a reconnecting client)
    or `cursor` resumes after that event; without either, only new events come."""
    auth = request.headers.get("authorization", "")
    if not auth.lower().startswith("bearer ") or not auth[7:].strip():
        raise Problem(401, "unauthenticated", "send Authorization: Bearer TOKEN")
    # A reconnecting client repeats its first URL: the header is the newer word.
    after = decode_cursor(last_event_id or cursor)
    c = ctx(request)
    token = auth[7:].strip()
    start, body_id = await asyncio.to_thread(_start, c, token, body, after)
    key = hashlib.sha256(token.encode()).hexdigest()
    if _OPEN.get(key, 0) >= MAX_STREAMS_PER_TOKEN:
        raise Problem(429, "too-many-streams",
                      f"this token already holds {MAX_STREAMS_PER_TOKEN} open event streams",
                      retry_after=RETRY_MS // 1000)
    stream = _Counted(key, _stream(c, token, body_id, start))
    return StreamingResponse(stream, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
