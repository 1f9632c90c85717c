"""Pages for getting in: log in and out, language, joining by invitation, and the
facilitators' invitation form."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node import pending
from node.errors import Problem
from node.errors.text import say
from node.governance import accounts, authz, bodies, members
from node.models import (
    ApiToken,
    LocalActor,
    Member,
    Membership,
)
from node.web.actions import (
    login_limiter,
    open_session,
    refusal,
    run_action,
    see_other,
    show_body,
)
from node.web.admin_pages import role_labels
from node.web.i18n import LANGUAGES, translator
from node.web.notices import leave
from node.web.numbers import whole
from node.web.render import language, page
from node.web.secret_forms import once, secret_for, shown_once
from node.web.session import COOKIE, current_member, form, start_session

router = APIRouter(include_in_schema=False)


@router.get("/login")
def login_page(request: Request) -> Response:
    with open_session(request) as s:
        return page(request, "login.html", current_member(request, s),
                    next=_safe_next(request.query_params.get("next", "")))


@router.post("/login")
async def login(request: Request) -> Response:
    data: dict[str, str] = {}
    limiter = login_limiter(request)

    def tx() -> tuple[str, str]:
        with open_session(request) as s:
            member = members.authenticate(s, limiter, data.get("username", ""),
                                          data.get("password", ""))
            _, raw = members.create_token(request.app.state.ctx.tx(s, member), "web",
                                          kind="web")
            s.commit()
            return raw, _landing(request, s, member, data.get("next", ""))

    try:
        data = await form(request)
        # argon2 takes a good fraction of a second (unknown usernames too, on purpose):
        # off the event loop, so the node keeps answering meanwhile.
        raw, target = await asyncio.to_thread(tx)
    except Problem as exc:
        lang = language(request, None)
        _ = translator(lang)
        msg = _("Usuario o contraseña incorrectos.") if exc.status == 401 else say(exc, lang)
        return page(request, "login.html", None, status=exc.status, error=msg,
                    username=data.get("username", ""), next=_safe_next(data.get("next", "")))
    response = see_other(target)
    start_session(request, response, raw)
    return response


def _safe_next(nxt: str) -> str:
    """Only a path on this node (never //elsewhere, never a scheme)."""
    return nxt if nxt.startswith("/") and not nxt.startswith("//") and "\\" not in nxt \
        else ""


def _landing(request: Request, s: Session, member: Member, nxt: str) -> str:
    """After logging in: the page that sent them to log in, else their own commune
    (the first body they joined), where "Pendiente para usted" is."""
    if _safe_next(nxt) and _safe_next(nxt) not in ("/login", "/"):
        return _safe_next(nxt)
    home = pending.home_body(s, member)
    return f"/b/{home.handle}" if home else "/"


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
            members.revoke_token(request.app.state.ctx.tx(s, me), token.id or 0)
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
        inv = members.invitation_by_token(s, token)
        state = "unknown" if inv is None else members.invitation_standing(
            s, inv, request.app.state.ctx.clock.now())
        body = s.get(LocalActor, inv.body_id) if inv is not None else None
        if state != "waiting":
            _ = translator(language(request, None))
            return page(request, "message.html", None, status=410,
                        title=_("Invitación no válida"),
                        detail=_dead_invitation(_, state, body))
        return page(request, "join.html", None, body=body, token=token)


def _dead_invitation(_: Callable[[str], str], state: str, body: LocalActor | None) -> str:
    """Why a link no longer lets anyone in, and what to do: the true reason per state."""
    why = {"withdrawn": _("Esta invitación fue retirada: quien la creó dejó la "
                          "coordinación."),
           "revoked": _("Esta invitación fue revocada por la coordinación."),
           "expired": _("Esta invitación venció."),
           "used": _("Esta invitación ya fue usada: cada enlace sirve una sola vez."),
           }.get(state, _("Este enlace de invitación no existe: revise que lo copió "
                          "completo."))
    if body is None:
        return why + " " + _("Pida un enlace nuevo a quien le invitó.")
    return why + " " + _("Pida un enlace nuevo a la coordinación de %(body)s.") % {
        "body": body.name}


@router.post("/join/{token}")
async def join(request: Request, token: str) -> Response:
    try:
        data = await form(request)
    except Problem as exc:
        return refusal(request, None, exc, f"/join/{token}")
    # Hashing the password, and every query: off the loop.
    return await asyncio.to_thread(_join, request, token, data)


def _join(request: Request, token: str, data: dict[str, str]) -> Response:
    back = f"/join/{token}"
    with open_session(request) as s:
        try:
            member = members.accept_invitation(
                request.app.state.ctx.tx(s), token, data.get("username", ""),
                data.get("password", ""), data.get("display_name", ""), data.get("family", ""))
            _, raw = members.create_token(request.app.state.ctx.tx(s, member), "web",
                                          kind="web")
            s.commit()
        except Problem as exc:
            s.rollback()
            # Back to the form with what was typed (never the password) and why.
            response = see_other(back)
            leave(s, request, response, {"error": say(exc, language(request, None)),
                                         "field": _JOIN_FIELDS.get(exc.code),
                                         "status": exc.status, "code": exc.code,
                                         "form": data})
            s.commit()
            return response
        response = see_other("/b/" + _first_body(request, s, member))
        leave(s, request, response, {"ok": translator(language(request, member))(
            "Bienvenida o bienvenido: su cuenta quedó creada.")})
        s.commit()
    start_session(request, response, raw)
    return response


# Which field of the join form a refusal is about.
_JOIN_FIELDS = {"bad-username": "username", "username-taken": "username",
                "weak-password": "password"}


def _first_body(request: Request, s: Session, member: Member) -> str:
    handle = s.exec(select(LocalActor.handle).join(
        Membership, col(Membership.body_id) == col(LocalActor.id)).where(
        Membership.member_id == member.id)).first()
    return handle or request.app.state.ctx.primary.handle


def _invitations(request: Request, s: Session, me: Member, b: LocalActor,
                 link: str = "", again: bool = False) -> Response:
    _ = translator(language(request, me))
    words = {"waiting": _("pendiente"), "used": _("usada"), "revoked": _("revocada"),
             "withdrawn": _("retirada: quien la creó dejó la coordinación"),
             "expired": _("vencida")}
    roles = role_labels(_)
    rows = []
    now = request.app.state.ctx.clock.now()
    for inv in members.invitations_of(s, b):
        state = members.invitation_standing(s, inv, now)
        used_by = s.get(Member, inv.used_by) if inv.used_by else None
        by = s.get(Member, inv.invited_by) if inv.invited_by else None
        rows.append({"id": inv.id, "state": state, "state_word": words[state],
                     "role": roles.get(inv.role, inv.role), "expires_at": inv.expires_at,
                     "created_at": inv.created_at, "by": by.display_name if by else "",
                     "used_by": used_by.display_name if used_by else ""})
    return page(request, "invite.html", me, body=b, link=link, again=again, rows=rows,
                roles=roles, once=once())


@router.get("/b/{handle}/invitations")
def invite_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        try:
            authz.require_action(s, me, b, "invite")
        except Problem as exc:
            return refusal(request, me, exc, f"/b/{handle}")
        assert me is not None
        return _invitations(request, s, me, b)

    return show_body(request, handle, view)


@router.post("/b/{handle}/invitations")
async def invite(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> Response:
        b = bodies.body_by_handle(s, handle)
        authz.require_action(s, me, b, "invite")
        days = data.get("days", "").strip() or "7"
        if whole(days) is None:
            raise Problem(422, "bad-expiry", "an invitation is valid for 1 to 60 days",
                          field="days")
        role = data.get("role", "member")
        # The same form sent again (a reload, a double tap) names the same invitation
        # (node.web.secret_forms): its link is shown again and no other is made.
        raw = secret_for(request, data, "invitation", b.handle, role, days)
        again = raw is not None and members.invitation_by_token(s, raw) is not None
        raw = members.invite(request.app.state.ctx.tx(s, me), b, role, int(days), token=raw)
        s.commit()
        inv = members.invitation_by_token(s, raw)
        waiting = inv is not None and members.invitation_state(
            inv, request.app.state.ctx.clock.now()) == "waiting"
        link = f"{request.app.state.ctx.urls.base}/join/{raw}" if waiting else ""
        return _invitations(request, s, me, b, link, again)

    # Rendered in the answer, not redirected: the single-use link must be in no URL.
    return await shown_once(request, f"/b/{handle}/invitations", act)


@router.post("/b/{handle}/invitations/{iid}/revoke")
async def revoke_invitation(request: Request, handle: str, iid: int) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        members.revoke_invitation(request.app.state.ctx.tx(s, me),
                                  bodies.body_by_handle(s, handle), iid)
        return f"/b/{handle}/invitations"

    return await run_action(request, f"/b/{handle}/invitations", act,
                            done="Invitación revocada: el enlace ya no sirve.")


# --- my account: password; reset links ------------------------------------------------

@router.get("/account")
def account_page(request: Request) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other("/login?next=/account")
        return page(request, "account.html", me)


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        if data.get("new_password", "") != data.get("repeat_password", ""):
            raise Problem(422, "passwords-differ", "the two new passwords are not the same",
                          field="repeat_password")
        token = s.exec(select(ApiToken).where(ApiToken.token_hash == members.token_hash(
            request.cookies.get(COOKIE, "")))).first()
        accounts.change_password(request.app.state.ctx.tx(s, me),
                                 data.get("current_password", ""),
                                 data.get("new_password", ""),
                                 keep_token=token.id if token else None)
        return "/account"

    return await run_action(request, "/account", act,
                            done="Contraseña cambiada. Sus otras sesiones se cerraron.")


@router.get("/reset/{token}")
def reset_page(request: Request, token: str) -> Response:
    with open_session(request) as s:
        try:
            _, person = accounts.reset_for(request.app.state.ctx.tx(s), token)
        except Problem as exc:
            return refusal(request, None, exc, "/login")
        return page(request, "reset.html", None, token=token, person=person)


@router.post("/reset/{token}")
async def reset(request: Request, token: str) -> Response:
    back = f"/reset/{token}"
    try:
        data = await form(request)
    except Problem as exc:
        return refusal(request, None, exc, back)
    return await asyncio.to_thread(_reset, request, token, data, back)


def _reset(request: Request, token: str, data: dict[str, str], back: str) -> Response:
    with open_session(request) as s:
        lang = language(request, None)
        try:
            if data.get("new_password", "") != data.get("repeat_password", ""):
                raise Problem(422, "passwords-differ",
                              "the two new passwords are not the same", field="repeat_password")
            # Hashing the password: here, in a worker thread, off the event loop.
            member = accounts.use_reset(request.app.state.ctx.tx(s), token,
                                        data.get("new_password", ""))
            _, raw = members.create_token(request.app.state.ctx.tx(s, member), "web",
                                          kind="web")
            s.commit()
        except Problem as exc:
            s.rollback()
            response = see_other(back)
            leave(s, request, response, {"error": say(exc, lang), "status": exc.status,
                                         "field": exc.extra.get("field"), "code": exc.code,
                                         "form": {}})
            s.commit()
            return response
        response = see_other(_landing(request, s, member, ""))
        leave(s, request, response, {"ok": translator(language(request, member))(
            "Contraseña nueva guardada. Ya entró con ella.")})
        s.commit()
    start_session(request, response, raw)
    return response
