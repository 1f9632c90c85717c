"""Read endpoints other servers use: discovery, actors, collections, objects."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.responses import JSONResponse, RedirectResponse, Response

from node.activitypub import documents
from node.activitypub.urls import AS_PUBLIC
from node.api.ids import RowId
from node.api.problem_docs import PROBLEMS
from node.api.problems import Problem
from node.context import NodeContext
from node.models import Amendment, Follower, Following, LocalActor, OutboxItem

router = APIRouter(tags=["federation"])


def documented(*media_types: str) -> dict[int | str, dict[str, Any]]:
    """For the OpenAPI document: what a federation endpoint answers, by media type."""
    return {200: {"description": "the document",
                  "content": {t: {"schema": {"type": "object"} if "json" in t else
                                  {"type": "string"}} for t in media_types}},
            **PROBLEMS}
PAGE_SIZE = 20


class ActivityJSON(JSONResponse):
    media_type = documents.AP_CONTENT_TYPE

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()


def wants_activity_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/activity+json" in accept or "application/ld+json" in accept


def _ctx(request: Request) -> NodeContext:
    ctx: NodeContext = request.app.state.ctx
    return ctx


def _actor(ctx: NodeContext, handle: str) -> LocalActor:
    actor = ctx.actors.get(handle.lower())
    if actor is None:
        raise Problem(404, "no-such-actor", f"no body called {handle} on this node")
    return actor


def _public_actor(ctx: NodeContext, handle: str) -> LocalActor:
    """A body whose record anyone may read: a private one's outbox and follows look
    missing (its actor document stays, for its keys)."""
    actor = _actor(ctx, handle)
    with Session(ctx.engine) as s:
        # The cache may predate the body's turning private.
        public = s.exec(select(LocalActor.public).where(LocalActor.id == actor.id)).first()
    if not public:
        raise Problem(404, "no-such-actor", f"no body called {handle} on this node")
    return actor


@router.get("/.well-known/webfinger", responses=documented("application/jrd+json"))
def webfinger(request: Request, resource: str = "") -> Response:
    ctx = _ctx(request)
    if not resource:
        raise Problem(400, "missing-resource", "the resource parameter is required")
    handle = None
    if resource.startswith("acct:"):
        # `acct:@maizal@host`, as people copy a fediverse address, is taken leniently.
        user, _, host = resource[5:].lstrip("@").partition("@")
        if host.lower() == ctx.settings.host:
            handle = user.lower()
    elif resource.startswith(f"{ctx.urls.base}/@"):
        # The profile address is the same resource as the actor (docs/federation.md).
        rest = resource[len(ctx.urls.base) + 2:]
        handle = rest.lower() if rest and "/" not in rest and "#" not in rest else None
    else:
        handle = ctx.urls.handle_of_actor(resource)
    if handle is None or handle not in ctx.actors:
        raise Problem(404, "no-such-actor", "no such resource on this node")
    doc = documents.webfinger(ctx.actors[handle], ctx.urls, ctx.settings.host)
    return JSONResponse(doc, media_type="application/jrd+json",
                        headers={"Access-Control-Allow-Origin": "*"})


@router.get("/.well-known/host-meta", responses=documented("application/xrd+xml"))
def host_meta(request: Request) -> Response:
    # Older fediverse software finds WebFinger through host-meta (RFC 6415).
    base = _ctx(request).urls.base
    xrd = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">'
           f'<Link rel="lrdd" template="{base}/.well-known/webfinger?resource={{uri}}"/>'
           "</XRD>")
    return Response(xrd, media_type="application/xrd+xml")


@router.get("/.well-known/nodeinfo", responses=documented("application/json"))
def nodeinfo_discovery(request: Request) -> Response:
    return JSONResponse(documents.nodeinfo_discovery(_ctx(request).urls))


@router.get("/nodeinfo/2.1", responses=documented("application/json"))
def nodeinfo(request: Request) -> Response:
    ctx = _ctx(request)
    # What the fediverse can see of the node: its public bodies and what they published.
    with Session(ctx.engine) as s:
        posts = s.exec(select(func.count()).select_from(OutboxItem).join(
            LocalActor, LocalActor.id == OutboxItem.actor_id).where(  # type: ignore[arg-type]
            OutboxItem.activity_type == "Create", OutboxItem.public == True,  # noqa: E712
            LocalActor.public == True)).one()  # noqa: E712
        public = s.exec(select(func.count()).select_from(LocalActor).where(
            LocalActor.public == True)).one()  # noqa: E712
    return JSONResponse(
        documents.nodeinfo(ctx.primary, int(public), int(posts)),
        media_type='application/json; profile="http://nodeinfo.diaspora.software/ns/schema/2.1#"',
    )


@router.get("/ns/comuna/v1", responses=documented("application/ld+json"))
def context_document() -> Response:
    return JSONResponse(documents.comuna_context(), media_type="application/ld+json")


@router.get("/actors/{handle}", responses=documented("application/activity+json", "text/html"))
def actor(request: Request, handle: str) -> Response:
    ctx = _ctx(request)
    body = _actor(ctx, handle)
    if wants_activity_json(request):
        # The federations' rules (and the governance they build on) load on the first
        # fetch of an actor, not at start: a node nobody has looked at does without.
        from node.federations import membership

        with Session(ctx.engine) as s:
            member_of = membership.federations_of(s, body)
        return ActivityJSON(documents.actor_document(body, ctx.urls, member_of),
                            headers={"Vary": "Accept"})
    # The page is the web package's (set on the app by node/app.py).
    page: Response = request.app.state.html_profile(request, ctx, body)
    return page


@router.get("/actors/{handle}/members", responses=documented("application/activity+json"))
def federation_members(request: Request, handle: str) -> Response:
    """The bodies that belong to this federation (accepted members)."""
    ctx = _ctx(request)
    body = _actor(ctx, handle)
    from node.federations import membership

    with Session(ctx.engine) as s:
        uris = membership.members_of(s, body)
    return ActivityJSON({
        "@context": documents.AS_CONTEXT, "id": f"{ctx.urls.actor(body.handle)}/members",
        "type": "OrderedCollection", "totalItems": len(uris), "orderedItems": uris,
    })


@router.get("/@{handle}", responses=documented("application/activity+json", "text/html"))
def at_handle(request: Request, handle: str) -> Response:
    return actor(request, handle)


@router.get("/actors/{handle}/outbox", responses=documented("application/activity+json"))
def outbox(request: Request, handle: str, page: bool = False,
           max_id: int | None = None) -> Response:
    ctx = _ctx(request)
    body = _public_actor(ctx, handle)
    base = ctx.urls.outbox(body.handle)
    with Session(ctx.engine) as s:
        where = [OutboxItem.actor_id == body.id, OutboxItem.public == True]  # noqa: E712
        total = s.exec(select(func.count()).select_from(OutboxItem).where(*where)).one()
        if not page:
            return ActivityJSON({
                "@context": documents.AS_CONTEXT, "id": base, "type": "OrderedCollection",
                "totalItems": int(total), "first": f"{base}?page=true",
            })
        query = select(OutboxItem).where(*where)
        if max_id is not None:
            query = query.where(OutboxItem.id < max_id)  # type: ignore[operator]
        items = s.exec(query.order_by(OutboxItem.id.desc()).limit(PAGE_SIZE)).all()  # type: ignore[union-attr]
    doc: dict[str, Any] = {
        "@context": documents.AS_CONTEXT,
        "id": f"{base}?page=true" + (f"&max_id={max_id}" if max_id else ""),
        "type": "OrderedCollectionPage",
        "partOf": base,
        "orderedItems": [json.loads(i.body) for i in items],
    }
    if len(items) == PAGE_SIZE:
        doc["next"] = f"{base}?page=true&max_id={items[-1].id}"
    return ActivityJSON(doc)


@router.get("/actors/{handle}/followers", responses=documented("application/activity+json"))
def followers(request: Request, handle: str) -> Response:
    ctx = _ctx(request)
    body = _public_actor(ctx, handle)
    with Session(ctx.engine) as s:
        uris = s.exec(select(Follower.follower_uri).where(Follower.actor_id == body.id)
                      .order_by(Follower.id)).all()  # type: ignore[arg-type]
    return ActivityJSON({
        "@context": documents.AS_CONTEXT, "id": ctx.urls.followers(body.handle),
        "type": "OrderedCollection", "totalItems": len(uris), "orderedItems": list(uris),
    })


@router.get("/actors/{handle}/following", responses=documented("application/activity+json"))
def following(request: Request, handle: str) -> Response:
    ctx = _ctx(request)
    body = _public_actor(ctx, handle)
    with Session(ctx.engine) as s:
        uris = s.exec(select(Following.target_uri).where(
            Following.actor_id == body.id, Following.state == "accepted")).all()
    return ActivityJSON({
        "@context": documents.AS_CONTEXT, "id": ctx.urls.following(body.handle),
        "type": "OrderedCollection", "totalItems": len(uris), "orderedItems": list(uris),
    })


def _public_item(ctx: NodeContext, uri: str, by_object: bool) -> dict[str, Any]:
    with Session(ctx.engine) as s:
        col = OutboxItem.object_id if by_object else OutboxItem.activity_id
        # The newest activity about an object (an Update after its Create) holds its
        # current state.
        item = s.exec(select(OutboxItem).where(col == uri)
                      .order_by(OutboxItem.id.desc())).first()  # type: ignore[union-attr]
        author = s.get(LocalActor, item.actor_id) if item is not None else None
    if item is None or not item.public or author is None or not author.public:
        # Not public and not found look the same from outside.
        raise Problem(404, "not-found", "no such public object")
    doc: dict[str, Any] = json.loads(item.body)
    if by_object:
        obj: dict[str, Any] = dict(doc["object"])
        obj.setdefault("@context", documents.AS_CONTEXT)
        return obj
    return doc


@router.get("/activities/{uid}", responses=documented("application/activity+json"))
def activity(request: Request, uid: str) -> Response:
    ctx = _ctx(request)
    return ActivityJSON(_public_item(ctx, ctx.urls.activity(uid), by_object=False))


@router.get("/objects/{uid}", responses=documented("application/activity+json", "text/html"))
def obj(request: Request, uid: str) -> Response:
    ctx = _ctx(request)
    doc = _public_item(ctx, ctx.urls.obj(uid), by_object=True)
    if doc.get("to") and AS_PUBLIC not in doc.get("to", []) + doc.get("cc", []):
        raise Problem(404, "not-found", "no such public object")
    if _prefers_html(request):
        # A person following a link from their server: the object's own page if it has
        # one (a proposal's), else a page of the notice; JSON stays the default for
        # every other client.
        url = doc.get("url")
        if isinstance(url, str) and url != doc.get("id") and \
                url.startswith(ctx.urls.base.rstrip("/") + "/"):
            return RedirectResponse(url, status_code=303, headers={"Vary": "Accept"})
        page: Response = request.app.state.html_object(request, ctx, doc)
        return page
    return ActivityJSON(doc, headers={"Vary": "Accept"})


@router.get("/amendments/{aid}", responses=documented("application/activity+json", "text/html"))
def amendment(request: Request, aid: RowId) -> Response:
    """An amendment to a federated matter, as this federation last announced it to its
    member bodies (what their mandates name), if the federation's record is public; a
    browser is sent to the proposal's page."""
    from node.federations.objects import amendment_uri

    ctx = _ctx(request)
    uri = amendment_uri(ctx.urls.base, aid)
    with Session(ctx.engine) as s:
        item = s.exec(select(OutboxItem).where(OutboxItem.object_id == uri)
                      .order_by(OutboxItem.id.desc())).first()  # type: ignore[union-attr]
        body = s.get(LocalActor, item.actor_id) if item is not None else None
        row = s.get(Amendment, aid)
    if item is None or body is None or not body.public or row is None:
        raise Problem(404, "not-found", "no such public object")
    if _prefers_html(request):
        return RedirectResponse(f"{ctx.urls.base}/p/{row.proposal_id}", status_code=303,
                                headers={"Vary": "Accept"})
    doc: dict[str, Any] = dict(json.loads(item.body)["object"])
    return ActivityJSON(doc, headers={"Vary": "Accept"})


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "text/html" in accept and not wants_activity_json(request)
