"""Bodies, their members, statutes, invitations, meetings and participation."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.deps import ctx, db, json_with_etag, member_tx, optional_member
from node.api.v1.outputs import (
    BodyOut,
    InvitationCreated,
    Items,
    MeetingCreated,
    MemberOut,
    ParticipationRow,
    ok,
)
from node.api.v1.schemas import NewBody, NewInvitation, NewMeeting, StatuteIn, defaults
from node.api.v1.views import body_view, decision_view
from node.errors import invalid
from node.governance import bodies, decisions, members
from node.governance.authz import require_facilitator, require_read
from node.governance.statute import Statute, StatuteError
from node.models import LocalActor, Member, Membership
from node.storage import changes
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["bodies"])


@router.get("/bodies", responses=ok(Items[BodyOut]))
def list_bodies(request: Request, member: Member | None = Depends(optional_member),
                session: Session = Depends(db)) -> Response:
    from node.governance.authz import can_read

    rows = session.exec(select(LocalActor).order_by(col(LocalActor.id))).all()
    return json_with_etag(request, {"items": [body_view(session, b) for b in rows
                                              if can_read(session, member, b)]})


@router.post("/bodies/{parent}/bodies", status_code=201, responses=ok(BodyOut, 201))
def create_body(request: Request, parent: str, body: NewBody,
                tx: Tx = Depends(member_tx)) -> Response:
    """A facilitator of `parent` creates a council inside it."""
    session, member = tx.session, tx.member
    parent_body = bodies.body_by_handle(session, parent)
    require_facilitator(session, member, parent_body)
    made = bodies.create_body(tx, parent_body, body.handle, body.name, body.kind,
                              public=body.public)
    members.grant(tx, member, made, "facilitator")
    changes.bump(session, changes.BODIES)
    session.commit()
    # This process answers for the body at once; the others on their next look.
    ctx(request).reload_actors()
    return json_with_etag(request, body_view(session, made), 201)


@router.get("/bodies/{handle}", responses=ok(BodyOut))
def get_body(request: Request, handle: str, member: Member | None = Depends(optional_member),
             session: Session = Depends(db)) -> Response:
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    return json_with_etag(request, body_view(session, b))


@router.get("/bodies/{handle}/members", responses=ok(Items[MemberOut]))
def list_members(request: Request, handle: str,
                 member: Member | None = Depends(optional_member),
                 session: Session = Depends(db)) -> Response:
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    rows = session.exec(select(Member, Membership.role).join(
        Membership, col(Membership.member_id) == col(Member.id)).where(
        Membership.body_id == b.id).order_by(col(Member.id))).all()
    out: dict[int, dict[str, object]] = {}
    for m, role in rows:
        entry = out.setdefault(m.id or 0, {"id": m.id, "username": m.username,
                                           "display_name": m.display_name, "roles": []})
        entry["roles"].append(role)  # type: ignore[attr-defined]
    return json_with_etag(request, {"items": list(out.values())})


@router.post("/bodies/{handle}/invitations", status_code=201, responses=ok(InvitationCreated, 201))
def invite(request: Request, handle: str, body: NewInvitation = defaults(NewInvitation),
           tx: Tx = Depends(member_tx)) -> Response:
    """A facilitator invites; the token is shown once and works once."""
    session, member = tx.session, tx.member
    b = bodies.body_by_handle(session, handle)
    require_facilitator(session, member, b)
    raw = members.invite(tx, b, body.role, body.valid_days)
    session.commit()
    base = tx.urls.base
    return json_with_etag(request, {"token": raw, "accept_url":
                                    f"{base}/api/v1/invitations/{raw}/accept"}, 201)


@router.put("/bodies/{handle}/statute", responses=ok(BodyOut))
def put_statute(request: Request, handle: str, body: StatuteIn = defaults(StatuteIn),
                tx: Tx = Depends(member_tx)) -> Response:
    session, member = tx.session, tx.member
    b = bodies.body_by_handle(session, handle)
    require_facilitator(session, member, b)
    try:
        statute = Statute.from_dict(body.model_dump())
    except StatuteError as exc:
        raise invalid("bad-statute", str(exc)) from exc
    bodies.set_statute(tx, b, statute)
    changes.bump(session, changes.BODIES)
    session.commit()
    return json_with_etag(request, body_view(session, b))


@router.post("/bodies/{handle}/meetings", status_code=201, responses=ok(MeetingCreated, 201))
def record_meeting(request: Request, handle: str, body: NewMeeting,
                   tx: Tx = Depends(member_tx)) -> Response:
    """Record an in-person assembly and the decisions it took, with counts."""
    session = tx.session
    b = bodies.body_by_handle(session, handle)
    items = [{"proposal_id": d.proposal_id, "for": d.votes_for, "against": d.against,
              "abstain": d.abstain, "block": d.block} for d in body.decisions]
    meeting, made = decisions.record_meeting(
        tx, b, body.held_at, body.place, body.attendance,
        body.families, body.agenda, body.minutes, items, assembly_id=body.assembly_id)
    session.commit()
    return json_with_etag(request, {"id": meeting.id,
                                    "decisions": [decision_view(d, session) for d in made]}, 201)


@router.get("/bodies/{handle}/participation", responses=ok(Items[ParticipationRow]))
def participation(request: Request, handle: str,
                  member: Member | None = Depends(optional_member),
                  session: Session = Depends(db)) -> Response:
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    return json_with_etag(request, {"items": decisions.participation(session, b)})
