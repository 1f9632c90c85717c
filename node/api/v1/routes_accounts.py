"""Joining by invitation, logging in for a token, revoking tokens, one's password and
what waits for one."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlmodel import Session, col, select
from starlette.responses import Response

from node import pending
from node.api.ids import RowId
from node.api.v1.deps import ctx, db, json_with_etag, limiter, member_required, member_tx
from node.api.v1.outputs import (
    PROBLEMS,
    BodyOut,
    Items,
    MemberCreated,
    MeOut,
    Out,
    TokenCreated,
    TokenOut,
    ok,
)
from node.api.v1.schemas import AcceptInvitation, ApiModel, Login
from node.api.v1.views import body_view, iso
from node.errors import not_found
from node.federations import membership
from node.governance import accounts, authz, bodies, members
from node.governance.members import LoginLimiter
from node.models import ApiToken, Invitation, LocalActor, Member, Membership
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/invitations/{token}/accept", status_code=201, responses={
    **ok(MemberCreated, 201),
    410: {**PROBLEMS[409], "description": "the invitation was used or has expired"}})
def accept_invitation(request: Request, token: str, body: AcceptInvitation,
                      session: Session = Depends(db)) -> Response:
    """Create an account from a single-use invitation link. Of concurrent requests with
    one link, one makes the account; the others get 410 `invitation-used`."""
    member = members.accept_invitation(ctx(request).tx(session), token, body.username,
                                       body.password, body.display_name, body.family)
    session.commit()
    return json_with_etag(request, {"id": member.id, "username": member.username}, 201)


@router.post("/tokens", status_code=201, responses={
    **ok(TokenCreated, 201),
    429: {**PROBLEMS[409], "description": "too many failed logins for this username"}})
def login(request: Request, body: Login, session: Session = Depends(db),
          lim: LoginLimiter = Depends(limiter)) -> Response:
    """Exchange a username and password for a bearer token (shown once). Failed
    attempts through this route and the web login count together per username."""
    member = members.authenticate(session, lim, body.username, body.password)
    token, raw = members.create_token(ctx(request).tx(session, member), body.label)
    session.commit()
    return json_with_etag(request, {"id": token.id, "token": raw, "label": token.label}, 201)


@router.get("/tokens", responses=ok(Items[TokenOut]))
def list_tokens(request: Request, member: Member = Depends(member_required),
                session: Session = Depends(db)) -> Response:
    rows = session.exec(select(ApiToken).where(ApiToken.member_id == member.id,
                                               ApiToken.kind == "api")
                        .order_by(col(ApiToken.id))).all()
    return json_with_etag(request, {"items": [
        {"id": t.id, "label": t.label, "created_at": iso(t.created_at),
         "revoked_at": iso(t.revoked_at)} for t in rows]})


@router.delete("/tokens/{token_id}", status_code=204, responses=PROBLEMS)
def revoke_token(token_id: RowId, tx: Tx = Depends(member_tx)) -> Response:
    session = tx.session
    members.revoke_token(tx, token_id)
    session.commit()
    return Response(status_code=204)


@router.get("/me", responses=ok(MeOut))
def me(request: Request, member: Member = Depends(member_required),
       session: Session = Depends(db)) -> Response:
    rows = session.exec(select(LocalActor.handle, Membership.role).join(
        Membership, col(Membership.body_id) == col(LocalActor.id)).where(
        Membership.member_id == member.id)).all()
    roles: dict[str, list[str]] = {}
    for handle, role in rows:
        roles.setdefault(handle, []).append(role)
    return json_with_etag(request, {"id": member.id, "username": member.username,
                                    "display_name": member.display_name,
                                    "language": member.language, "roles": roles})


class PasswordChange(ApiModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class PendingItemOut(Out):
    kind: Literal["vote", "amendment", "mandate", "exchange", "join", "draft"] = Field(
        description="a vote not cast yet (on a proposal or an amendment), a mandate to "
                    "carry, an exchange the body must answer, a body asking to join a "
                    "federation, one's own draft")
    title: str
    url: str = Field(description="the page about it, a path on this node")
    body: str = Field(description="the name of the body it concerns")
    due: str | None = Field(description="when the vote closes or the mandate lapses (UTC)")
    soon: bool = Field(description="a vote closing within two days")


@router.put("/me/password", status_code=204, responses=PROBLEMS)
def change_password(body: PasswordChange, tx: Tx = Depends(member_tx)) -> Response:
    """Change one's own password; the current one is required. Browser sessions end;
    API tokens stay (revoke them with DELETE /tokens/{id})."""
    session = tx.session
    accounts.change_password(tx, body.current_password, body.new_password)
    session.commit()
    return Response(status_code=204)


@router.get("/me/pending", responses=ok(Items[PendingItemOut]))
def my_pending(request: Request, tx: Tx = Depends(member_tx)) -> Response:
    """What waits for the member across their bodies, votes closing first: the list the
    pages show under "Pendiente para usted"."""
    items = pending.for_member(tx)
    return json_with_etag(request, {"items": [
        {"kind": i.kind, "title": i.title, "url": i.url, "body": i.body,
         "due": iso(i.due) if i.due else None, "soon": i.soon} for i in items]})


# --- a body's coordination: its name, invitations, roles, members, reset links --------

class BodyDescription(ApiModel):
    name: str = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=5000)


class InvitationOut(Out):
    id: int
    role: str
    state: Literal["waiting", "used", "revoked", "expired"]
    expires_at: str | None
    created_at: str | None
    invited_by: int | None
    used_by: int | None


class ResetCreated(Out):
    url: str = Field(description="the single-use page link to hand over; shown once")
    expires_at: str | None


def _invitation_view(inv: Invitation, now: datetime) -> dict[str, object]:
    return {"id": inv.id, "role": inv.role, "state": members.invitation_state(inv, now),
            "expires_at": iso(inv.expires_at), "created_at": iso(inv.created_at),
            "invited_by": inv.invited_by, "used_by": inv.used_by}


def _person(session: Session, member_id: int) -> Member:
    found = session.get(Member, member_id)
    if found is None:
        raise not_found("member")
    return found


@router.patch("/bodies/{handle}", responses=ok(BodyOut))
def describe_body(request: Request, handle: str, body: BodyDescription,
                  tx: Tx = Depends(member_tx)) -> Response:
    """A coordinator renames the body or changes its description; followers and
    federations get the new actor document."""
    session = tx.session
    b = bodies.body_by_handle(session, handle)
    bodies.describe(tx, b, body.name, body.summary)
    membership.announce_actor(tx, b)
    session.commit()
    return json_with_etag(request, body_view(session, b))


@router.get("/bodies/{handle}/invitations", responses=ok(Items[InvitationOut]))
def list_invitations(request: Request, handle: str, member: Member = Depends(member_required),
                     session: Session = Depends(db)) -> Response:
    """The body's invitations, newest first, for its coordinators (links are never
    shown again: only their state)."""
    b = bodies.body_by_handle(session, handle)
    authz.require_action(session, member, b, "invite")
    now = ctx(request).clock.now()
    return json_with_etag(request, {"items": [_invitation_view(i, now) for i in
                                              members.invitations_of(session, b)]})


@router.post("/bodies/{handle}/invitations/{invitation_id}/revoke",
             responses=ok(InvitationOut))
def revoke_invitation(request: Request, handle: str, invitation_id: RowId,
                      tx: Tx = Depends(member_tx)) -> Response:
    session = tx.session
    inv = members.revoke_invitation(tx, bodies.body_by_handle(session, handle), invitation_id)
    session.commit()
    return json_with_etag(request, _invitation_view(inv, tx.now()))


@router.put("/bodies/{handle}/members/{member_id}/roles/{role}", status_code=204,
            responses=PROBLEMS)
def grant_role(handle: str, member_id: RowId, role: Literal["facilitator", "spokesperson"],
               tx: Tx = Depends(member_tx)) -> Response:
    session = tx.session
    members.change_role(tx, bodies.body_by_handle(session, handle),
                        _person(session, member_id), f"grant_{role}")
    session.commit()
    return Response(status_code=204)


@router.delete("/bodies/{handle}/members/{member_id}/roles/{role}", status_code=204,
               responses=PROBLEMS)
def revoke_role(handle: str, member_id: RowId, role: Literal["facilitator", "spokesperson"],
                tx: Tx = Depends(member_tx)) -> Response:
    """A body always keeps one coordinator: 409 `last-coordinator`."""
    session = tx.session
    members.change_role(tx, bodies.body_by_handle(session, handle),
                        _person(session, member_id), f"revoke_{role}")
    session.commit()
    return Response(status_code=204)


@router.delete("/bodies/{handle}/members/{member_id}", status_code=204, responses=PROBLEMS)
def remove_member(handle: str, member_id: RowId, reason: str = "",
                  tx: Tx = Depends(member_tx)) -> Response:
    """Take a member out of the body (their account stays); recorded in the audit log."""
    session = tx.session
    members.remove_member(tx, bodies.body_by_handle(session, handle),
                          _person(session, member_id), reason[:500])
    session.commit()
    return Response(status_code=204)


@router.post("/bodies/{handle}/members/{member_id}/reset", status_code=201,
             responses=ok(ResetCreated, 201))
def reset_link(request: Request, handle: str, member_id: RowId,
               tx: Tx = Depends(member_tx)) -> Response:
    """A single-use password reset link for a member, valid 24 hours, shown once."""
    session = tx.session
    raw = accounts.make_reset(tx, bodies.body_by_handle(session, handle),
                              _person(session, member_id))
    session.commit()
    row, _ = accounts.reset_for(tx, raw)
    return json_with_etag(request, {"url": f"{tx.urls.base}/reset/{raw}",
                                    "expires_at": iso(row.expires_at)}, 201)
