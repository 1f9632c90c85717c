"""The inbox HTTP endpoints (per body and shared).

The order of checks is the contract: size, content type and JSON, keyId host
against blocks, signature, authorship, durable store, 202. No check before the
store writes anything, so a refused request changes nothing. An activity nothing
here acts on is stored already handled (`node.inbox.triage`); the rest wait for the
processor. 401 means the signature is bad; a key we cannot fetch now (or may not
fetch yet) is 503 or 429 with Retry-After, since some senders give up on a 401 for
good.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from node.activitypub.directory import KeyThrottled, KeyUnavailable
from node.activitypub.hosts import host_key
from node.activitypub.httpsig import Headers, HttpMessage
from node.api.jsondepth import too_deep, too_deep_problem
from node.api.problems import Problem, from_problem
from node.context import NodeContext
from node.inbox.kinds import classify
from node.inbox.triage import settled_on_arrival
from node.inbox.verify import Forbidden, Misaddressed, Unauthorized, key_host, verify_request
from node.inbox.writer import InboxWriter
from node.models.base import utcnow

ACCEPTED_TYPES = ("application/activity+json", "application/ld+json", "application/json")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise Problem(400, "bad-content-length", "Content-Length is not a number")
        if int(declared) > limit:
            raise Problem(413, "too-large", f"body larger than {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "too-large", f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# What the inbox's columns hold (node/models/inbox.py): a longer id or actor is refused
# here, since PostgreSQL would refuse it in the group commit, with every row beside it.
MAX_STORED_URI = 2048


def _storable(what: str, value: object) -> None:
    """Refuse text no database can store as given: a lone surrogate (valid JSON as an
    escape, not encodable as UTF-8) or a value longer than its column."""
    if not isinstance(value, str):
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Problem(400, "bad-activity", f"the activity's {what} is not valid text") from exc
    if len(value) > MAX_STORED_URI:
        raise Problem(400, "bad-activity",
                      f"the activity's {what} is longer than {MAX_STORED_URI} characters")


def parse_activity(content_type: str, body: bytes) -> dict[str, Any]:
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ACCEPTED_TYPES:
        raise Problem(400, "bad-content-type",
                      "send application/activity+json or application/ld+json")
    if too_deep(body):
        raise too_deep_problem()
    try:
        # UTF-8 only (RFC 8259): json.loads would also take UTF-16/32 bytes, which the
        # store below could not decode.
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Problem(400, "bad-json", f"body is not JSON: {exc}") from exc
    except RecursionError as exc:  # the pre-check's limit is far below this; kept as a net
        raise too_deep_problem() from exc
    if not isinstance(doc, dict):
        raise Problem(400, "bad-activity", "body is not a JSON object")
    if not isinstance(doc.get("id"), str) or not doc["id"].startswith(("https://", "http://")):
        raise Problem(400, "bad-activity", "activity has no http(s) id")
    if not isinstance(doc.get("type"), str):
        raise Problem(400, "bad-activity", "activity has no type")
    actor_id = actor_of(doc)
    if not isinstance(actor_id, str) or not actor_id.startswith(("https://", "http://")):
        # Not a signature problem (401 would say so): there is no one to check it against.
        raise Problem(400, "bad-activity", "activity has no actor (an http(s) id)")
    for what, value in (("id", doc["id"]), ("type", doc["type"]), ("actor", actor_id)):
        _storable(what, value)
    if b"\\u0000" in body.lower():
        # No database stores NUL in text (PostgreSQL refuses it): refuse it here, clearly.
        raise Problem(400, "bad-activity", "activity contains NUL characters")
    return doc


def actor_of(activity: dict[str, Any]) -> Any:
    """The activity's `actor`, given as a URI or as an object with its `id` (a string
    once `parse_activity` has accepted the activity). `authority.id_of` says the same
    as text, but importing it here would load the federations' rules with the first
    request of a node that only answers follows."""
    actor = activity.get("actor")
    return actor.get("id") if isinstance(actor, dict) else actor


def to_message(request: Request, body: bytes) -> HttpMessage:
    target = request.url.path
    if request.url.query:
        target += "?" + request.url.query
    return HttpMessage(
        method=request.method,
        target=target,
        authority=request.headers.get("host", "").lower(),
        scheme=request.url.scheme,
        headers=Headers((k.decode("latin-1"), v.decode("latin-1"))
                        for k, v in request.headers.raw),
        body=body,
    )


async def accept_activity(
    ctx: NodeContext, request: Request, recipient: str, writer: InboxWriter | None
) -> Response:
    body = await read_body(request, ctx.settings.max_body_bytes)
    activity = parse_activity(request.headers.get("content-type", ""), body)
    msg = to_message(request, body)
    try:
        host, prepared = key_host(msg, ctx.policy)
        # A block names a host with its port, or a bare name for every port of it. It
        # covers the signer's host and the actor's: an activity of a blocked host's
        # actor relayed by another server (with its author's proof) is refused too,
        # before anything is fetched.
        for blocked in (host, host_key(actor_of(activity))):
            if blocked and ctx.host_blocked(blocked):
                raise Problem(403, "blocked", f"{blocked} is blocked on this node")
        verified = await verify_request(prepared, activity, ctx.directory)
    except KeyUnavailable as exc:
        # No verdict on the signature: the signer's (or the author's proof) key could
        # not be fetched now, or this host's fetches are held back. The sender should
        # try again after Retry-After; 401 would tell it the signature is bad.
        if isinstance(exc, KeyThrottled):
            raise Problem(429, "too-many-key-fetches", str(exc),
                          retry_after=exc.retry_after) from exc
        raise Problem(503, "key-unavailable", str(exc), retry_after=exc.retry_after) from exc
    except Misaddressed as exc:
        raise Problem(401, "wrong-authority", str(exc)) from exc
    except Unauthorized as exc:
        raise Problem(401, "bad-signature", str(exc)) from exc
    except Forbidden as exc:
        raise Problem(403, "not-the-actor", str(exc)) from exc
    # The key id is the signer's to choose, and stored beside the activity.
    _storable("key id", verified.signer)
    if writer is None:  # the benchmark's floor: verified, answered, not stored
        return Response(status_code=202)
    actor_id = actor_of(activity)
    kind = classify(activity)
    handled = settled_on_arrival(ctx, kind, activity, recipient, verified.signer_actor)
    row = {
        "activity_id": activity["id"],
        "activity_type": str(activity["type"])[:64],
        "actor": str(actor_id),
        "recipient": recipient,
        "signer": verified.signer,
        "body": body.decode("utf-8"),
        "received_at": utcnow(),
        # Nothing left to do for it: stored handled, and the processor never claims it.
        "state": "done" if handled else "queued",
        "attempts": 0,
        "next_attempt_at": utcnow(),
        "lease_owner": None,
        "lease_until": None,
        "last_error": "",
    }
    await writer.store(row)
    return Response(status_code=202)


def make_inbox_endpoint(shared: bool) -> Any:
    async def endpoint(request: Request) -> Response:
        ctx: NodeContext = request.app.state.ctx
        recipient = ""
        if not shared:
            recipient = request.path_params["handle"]
            if recipient not in ctx.actors:
                return from_problem(Problem(404, "no-such-actor", "no such body on this node"))
        try:
            return await accept_activity(ctx, request, recipient, request.app.state.inbox_writer)
        except Problem as p:
            return from_problem(p)  # with Retry-After when the refusal passes

    return endpoint
