"""Federation membership and where a matter is decided."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.deps import (
    ctx,
    db,
    json_with_etag,
    member_required,
    member_tx,
    optional_member,
)
from node.api.v1.federation_io import (
    AskToJoin,
    DeclareFamilies,
    JoinAsked,
    MembershipDecision,
    MembershipLinkOut,
)
from node.api.v1.outputs import DecidingLevelOut, Items, ok
from node.errors import Problem
from node.federations import escalation, graph, levels, membership
from node.federations.names import names
from node.governance import bodies
from node.governance.authz import require_read
from node.governance.members import roles_in
from node.models import FederationLink, LocalActor, Member
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["federations"])


def _views(request: Request, session: Session, member: Member | None, body: LocalActor,
           links: list[FederationLink]) -> list[dict[str, object]]:
    known = names(session, ctx(request).urls, [x.remote_uri for x in links])
    return [{"id": x.id, "remote": x.remote_uri, "name": known[x.remote_uri],
             "state": x.state, "direction": x.direction, "families": x.families,
             "families_declared": x.families_declared,
             "actions": membership.request_actions(session, member, body, x)} for x in links]


@router.post("/bodies/{handle}/federations", status_code=202, responses=ok(JoinAsked, 202))
async def join(request: Request, handle: str, body: AskToJoin,
               member: Member = Depends(member_required)) -> Response:
    """Ask a federation (`@handle@host` or its actor URL) to admit this body, declaring
    the families it counts."""
    uri, families = await escalation.join(ctx(request), member, handle, body.federation,
                                       body.families)
    return json_with_etag(request, {"federation": uri, "state": "pending",
                                    "families": families}, 202)


@router.post("/bodies/{handle}/federations/{link_id}/families", status_code=202,
             responses=ok(MembershipLinkOut, 202))
def declare_families(request: Request, handle: str, link_id: RowId, body: DeclareFamilies,
                     tx: Tx = Depends(member_tx)) -> Response:
    """Declare a new number of families to a federation; the accepted number holds until
    the federation accepts this one (`families_declared` shows it waiting)."""
    b = bodies.body_by_handle(tx.session, handle)
    link = membership.declare_families(tx, b, link_id, body.families)
    tx.commit()
    return json_with_etag(request, _views(request, tx.session, tx.member, b, [link])[0], 202)


@router.get("/bodies/{handle}/federations", responses=ok(Items[MembershipLinkOut]))
def federations(request: Request, handle: str,
                member: Member | None = Depends(optional_member),
                session: Session = Depends(db)) -> Response:
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    rows = session.exec(select(FederationLink).where(
        FederationLink.body_id == b.id, FederationLink.direction == "member_of")
        .order_by(col(FederationLink.id))).all()
    return json_with_etag(request, {"items": _views(request, session, member, b, list(rows))})


@router.get("/bodies/{handle}/federation-members", responses=ok(Items[MembershipLinkOut]))
def federation_members(request: Request, handle: str,
                       member: Member | None = Depends(optional_member),
                       session: Session = Depends(db)) -> Response:
    """Member bodies with their accepted families (and any newer declaration waiting);
    facilitators also see pending requests."""
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    query = select(FederationLink).where(FederationLink.body_id == b.id,
                                         FederationLink.direction == "has_member")
    if "facilitator" not in roles_in(session, member, b):
        query = query.where(FederationLink.state == "accepted")
    rows = session.exec(query.order_by(col(FederationLink.id))).all()
    return json_with_etag(request, {"items": _views(request, session, member, b, list(rows))})


@router.post("/bodies/{handle}/federation-members/{link_id}/decision",
             responses=ok(MembershipLinkOut))
def decide(request: Request, handle: str, link_id: RowId, body: MembershipDecision,
           tx: Tx = Depends(member_tx)) -> Response:
    """Admit a pending member or not, or take (or refuse) a member's new declaration of
    families."""
    b = bodies.body_by_handle(tx.session, handle)
    link = membership.decide_member(tx, b, link_id, body.accept)
    tx.commit()
    return json_with_etag(request, _views(request, tx.session, tx.member, b, [link])[0])


@router.get("/deciding-level", responses=ok(DecidingLevelOut))
async def deciding_level(request: Request, here: str,
                         affects: list[str] = Query(min_length=1, max_length=100)
                         ) -> Response:
    """Where a matter affecting `affects` (actor URIs) is decided, seen from body `here`."""
    c = ctx(request)
    if here not in c.actors:
        raise Problem(404, "not-found", "no such body here")
    here_uri = c.urls.actor(here)
    parents = await graph.parents_map(c, [here_uri, *affects])
    routing = levels.route(here_uri, affects, lambda u: parents.get(u, []))
    return json_with_etag(request, {"level": levels.deciding_level(
        affects, lambda u: parents.get(u, [])), "route": routing.route.value,
        "target": routing.target, "reason": routing.reason})
