"""Pages for getting in: log in and out, language, joining by invitation, and the
facilitators' invitation form."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.errors import Problem
from node.governance import bodies, members
from node.governance.authz import require_facilitator
from node.models import (
    ApiToken,
    Invitation,
    LocalActor,
    Member,
    Membership,
)
from node.web.actions import (
    login_limiter,
    open_session,
    refusal,
    see_other,
)
from node.web.i18n import LANGUAGES, translator
from node.web.problem_text import say
from node.web.render import language, page
from node.web.session import COOKIE, current_member, form, start_session

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request) -> Response:
    with open_session(request) as s:
        return page(request, "login.html", current_member(request, s))


@router.post("/login")
async def login(request: Request) -> Response:
    data: dict[str, str] = {}
    limiter = login_limiter(request)

    def tx() -> str:
        with open_session(request) as s:
            member = members.authenticate(s, limiter, data.get("username", ""),
                                          data.get("password", ""))
            _, raw = members.create_token(s, member, "web", kind="web")
            s.commit()
            return raw

    try:
        data = await form(request)
        # argon2 takes a good fraction of a second (unknown usernames too, on purpose):
        # off the event loop, so the node keeps answering meanwhile.
        raw = await asyncio.to_thread(tx)
    except Problem as exc:
        lang = language(request, None)
        _ = translator(lang)
        msg = _("Usuario o contraseña incorrectos.") if exc.status == 401 else say(exc, lang)
        return page(request, "login.html", None, status=exc.status, error=msg,
                    username=data.get("username", ""))
    response = see_other("/")
    start_session(request, response, raw)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await form(request)
    await asyncio.to_thread(_end_session, request)
    response = see_other("/")
    response.delete_cookie(COOKIE)
    return response


def _end_session(request: Request) -> None:
    with open_session(request) as s:
        me = current_member(request, s)
        raw = request.cookies.get(COOKIE, "")
        token = s.exec(select(ApiToken).where(
            ApiToken.token_hash == members.token_hash(raw))).first()
        if me is not None and token is not None:
            members.revoke_token(s, me, token.id or 0)
            s.commit()


@router.post("/language")
async def set_language(request: Request) -> Response:
    data = await form(request)
    lang = data.get("lang", "es")
    if lang not in LANGUAGES:
        lang = "es"
    nxt = data.get("next", "/")
    response = see_other(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax",
                        secure=request.url.scheme == "https")
    await asyncio.to_thread(_remember_language, request, lang)
    return response


def _remember_language(request: Request, lang: str) -> None:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is not None:
            me.language = lang
            s.add(me)
            s.commit()


@router.get("/join/{token}")
def join_page(request: Request, token: str) -> Response:
    with open_session(request) as s:
        inv = s.exec(select(Invitation).where(
            Invitation.token_hash == members.token_hash(token))).first()
        if inv is None or inv.used_at is not None:
            _ = translator(language(request, None))
            return page(request, "message.html", None, status=410,
                        title=_("Invitación no válida"),
                        detail=_("Esta invitación no existe o ya fue usada."))
        body = s.get(LocalActor, inv.body_id)
        return page(request, "join.html", None, body=body, token=token)


@router.post("/join/{token}")
async def join(request: Request, token: str) -> Response:
    data: dict[str, str] = {}

    def tx() -> tuple[str, str]:
        with open_session(request) as s:
            member = members.accept_invitation(
                s, token, data.get("username", ""), data.get("password", ""),
                data.get("display_name", ""), data.get("family", ""))
            _, raw = members.create_token(s, member, "web", kind="web")
            s.commit()
            return _first_body(request, s, member), raw

    try:
        data = await form(request)
        # Hashing the password, and every query: off the loop.
        handle, raw = await asyncio.to_thread(tx)
    except Problem as exc:
        return refusal(request, None, exc, f"/join/{token}")
    response = see_other("/b/" + handle)
    start_session(request, response, raw)
    return response


def _first_body(request: Request, s: Session, member: Member) -> str:
    handle = s.exec(select(LocalActor.handle).join(
        Membership, col(Membership.body_id) == col(LocalActor.id)).where(
        Membership.member_id == member.id)).first()
    return handle or request.app.state.ctx.primary.handle


@router.get("/b/{handle}/invitations")
def invite_page(request: Request, handle: str) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        b = bodies.body_by_handle(s, handle)
        return page(request, "invite.html", me, body=b, link="")


@router.post("/b/{handle}/invitations")
async def invite(request: Request, handle: str) -> Response:
    try:
        data: dict[str, str] | Problem = await form(request)
    except Problem as exc:
        data = exc
    return await asyncio.to_thread(_invite, request, handle, data)


def _invite(request: Request, handle: str, data: dict[str, str] | Problem) -> Response:
    # Rendered directly, not redirected: the single-use link must not end up in a URL.
    with open_session(request) as s:
        me = current_member(request, s)
        try:
            if isinstance(data, Problem):
                raise data
            b = bodies.body_by_handle(s, handle)
            require_facilitator(s, me, b)
            assert me is not None
            days = int(data["days"]) if data.get("days", "").isdigit() else 7
            raw = members.invite(s, me, b, data.get("role", "member"), days)
            s.commit()
        except Problem as exc:
            s.rollback()
            return refusal(request, me, exc, f"/b/{handle}/invitations")
        link = f"{request.app.state.ctx.urls.base}/join/{raw}"
        return page(request, "invite.html", me, body=b, link=link)
