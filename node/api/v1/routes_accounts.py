"""Joining by invitation, logging in for a token, revoking tokens, one's password and
what waits for one."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import Field
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.deps import ctx, db, json_with_etag, limiter, member_required
from node.api.v1.outputs import (
    PROBLEMS,
    Items,
    MemberCreated,
    MeOut,
    Out,
    TokenCreated,
    TokenOut,
    ok,
)
from node.api.v1.schemas import AcceptInvitation, ApiModel, Login
from node.api.v1.views import iso
from node.governance import accounts, members, pending
from node.governance.members import LoginLimiter
from node.models import ApiToken, LocalActor, Member, Membership

router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post("/invitations/{token}/accept", status_code=201, responses={
    **ok(MemberCreated, 201),
    410: {**PROBLEMS[409], "description": "the invitation was used or has expired"}})
def accept_invitation(request: Request, token: str, body: AcceptInvitation,
                      session: Session = Depends(db)) -> Response:
    """Create an account from a single-use invitation link. Of concurrent requests with
    one link, one makes the account; the others get 410 `invitation-used`."""
    member = members.accept_invitation(session, token, body.username, body.password,
                                       body.display_name, body.family)
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
    token, raw = members.create_token(session, member, body.label)
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
def revoke_token(token_id: int, member: Member = Depends(member_required),
                 session: Session = Depends(db)) -> Response:
    members.revoke_token(session, member, token_id)
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
    kind: Literal["vote", "mandate", "exchange", "join", "draft"] = Field(
        description="a vote not cast yet, a mandate to carry, an exchange the body must "
                    "answer, a body asking to join a federation, one's own draft")
    title: str
    url: str = Field(description="the page about it, a path on this node")
    body: str = Field(description="the name of the body it concerns")
    due: str | None = Field(description="when the vote closes or the mandate lapses (UTC)")
    soon: bool = Field(description="a vote closing within two days")


@router.put("/me/password", status_code=204, responses=PROBLEMS)
def change_password(body: PasswordChange, member: Member = Depends(member_required),
                    session: Session = Depends(db)) -> Response:
    """Change one's own password; the current one is required. Browser sessions end;
    API tokens stay (revoke them with DELETE /tokens/{id})."""
    accounts.change_password(session, member, body.current_password, body.new_password)
    session.commit()
    return Response(status_code=204)


@router.get("/me/pending", responses=ok(Items[PendingItemOut]))
def my_pending(request: Request, member: Member = Depends(member_required),
               session: Session = Depends(db)) -> Response:
    """What waits for the member across their bodies, votes closing first: the list the
    pages show under "Pendiente para usted"."""
    items = pending.for_member(session, ctx(request).urls, member)
    return json_with_etag(request, {"items": [
        {"kind": i.kind, "title": i.title, "url": i.url, "body": i.body,
         "due": iso(i.due) if i.due else None, "soon": i.soon} for i in items]})
