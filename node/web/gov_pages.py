"""Pages for members: log in, join, a body's proposals, a proposal (comments,
amendments, vote), members, participation, invitations. No JavaScript needed;
every form carries a CSRF token. The rules live in node.governance."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import RedirectResponse, Response

from node.api.v1.views import decision_view, proposal_view
from node.errors import Problem
from node.governance import bodies, decisions, members, proposals
from node.governance.authz import require_facilitator, require_read
from node.governance.members import LoginLimiter, roles_in
from node.governance.statute import Rule, Statute
from node.models import (
    Decision,
    Evaluation,
    Invitation,
    LocalActor,
    Member,
    Membership,
    Proposal,
    Vote,
)
from node.models.base import aware, utcnow
from node.web.i18n import LANGUAGES, translator
from node.web.render import language, page
from node.web.session import COOKIE, current_member, form, start_session

router = APIRouter(include_in_schema=False)
_limiter = LoginLimiter()


def _db(request: Request) -> Session:
    return Session(request.app.state.ctx.engine, expire_on_commit=False)


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _error(request: Request, me: Member | None, exc: Problem, back: str) -> Response:
    _ = translator(language(request, me))
    return page(request, "message.html", me, status=exc.status, title=_("No se pudo"),
                detail=exc.detail, back=back)


Action = Callable[[Session, Member, dict[str, str]], Awaitable[str] | str]


async def _post(request: Request, back: str, action: Action) -> Response:
    """Run a form action for the logged-in member; show the reason if it is refused."""
    with _db(request) as s:
        me = current_member(request, s)
        try:
            data = await form(request)
            if me is None:
                return _back(f"/login?next={back}")
            result = action(s, me, data)
            target = await result if not isinstance(result, str) else result
            s.commit()
        except Problem as exc:
            s.rollback()
            return _error(request, me, exc, back)
    request.app.state.ctx.delivery_wakeup.set()
    return _back(target)


@router.get("/login")
def login_page(request: Request) -> Response:
    with _db(request) as s:
        return page(request, "login.html", current_member(request, s))


@router.post("/login")
async def login(request: Request) -> Response:
    data: dict[str, str] = {}
    with _db(request) as s:
        try:
            data = await form(request)
            member = members.authenticate(s, _limiter, data.get("username", ""),
                                          data.get("password", ""))
            _, raw = members.create_token(s, member, "web", kind="web")
            s.commit()
        except Problem as exc:
            _ = translator(language(request, None))
            msg = _("Usuario o contraseña incorrectos.") if exc.status == 401 else exc.detail
            return page(request, "login.html", None, status=exc.status, error=msg,
                        username=data.get("username", ""))
    response = _back("/")
    start_session(request, response, raw)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        await form(request)
        raw = request.cookies.get(COOKIE, "")
        from node.models import ApiToken

        token = s.exec(select(ApiToken).where(
            ApiToken.token_hash == members.token_hash(raw))).first()
        if me is not None and token is not None:
            members.revoke_token(s, me, token.id or 0)
            s.commit()
    response = _back("/")
    response.delete_cookie(COOKIE)
    return response


@router.post("/language")
async def set_language(request: Request) -> Response:
    data = await form(request)
    lang = data.get("lang", "es")
    if lang not in LANGUAGES:
        lang = "es"
    nxt = data.get("next", "/")
    response = _back(nxt if nxt.startswith("/") and not nxt.startswith("//") else "/")
    response.set_cookie("lang", lang, max_age=365 * 86400, samesite="lax",
                        secure=request.url.scheme == "https")
    with _db(request) as s:
        me = current_member(request, s)
        if me is not None:
            me.language = lang
            s.add(me)
            s.commit()
    return response


@router.get("/join/{token}")
def join_page(request: Request, token: str) -> Response:
    with _db(request) as s:
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
    with _db(request) as s:
        try:
            data = await form(request)
            member = members.accept_invitation(
                s, token, data.get("username", ""), data.get("password", ""),
                data.get("display_name", ""), data.get("family", ""))
            _, raw = members.create_token(s, member, "web", kind="web")
            s.commit()
        except Problem as exc:
            s.rollback()
            return _error(request, None, exc, f"/join/{token}")
    response = _back("/b/" + _first_body(request, member))
    start_session(request, response, raw)
    return response


def _first_body(request: Request, member: Member) -> str:
    with _db(request) as s:
        handle = s.exec(select(LocalActor.handle).join(
            Membership, col(Membership.body_id) == col(LocalActor.id)).where(
            Membership.member_id == member.id)).first()
    return handle or request.app.state.ctx.primary.handle


STATES = ["vote", "deliberation", "draft", "decided", "carried_out", "evaluated"]


def _state_labels(_: Callable[[str], str]) -> dict[str, str]:
    return {"draft": _("Borradores"), "deliberation": _("En deliberación"),
            "vote": _("En votación"), "decided": _("Decididas"),
            "carried_out": _("Ejecutadas"), "evaluated": _("Evaluadas")}


def _statute_text(_: Callable[[str], str], statute: Any) -> str:
    rule = {Rule.majority: _("mayoría simple"),
            Rule.qualified: _("mayoría calificada de") + f" {statute.threshold}",
            Rule.consent: _("consenso (aprobada salvo bloqueo)")}[statute.rule]
    basis = _("de los miembros") if statute.quorum_basis.value == "members" else \
        _("de las familias")
    return f"{rule}; {_('quórum')} {statute.quorum} {basis}"


def _outcome_labels(_: Callable[[str], str]) -> dict[str, str]:
    return {"adopted": _("Aprobada"), "rejected": _("Rechazada"), "no_quorum": _("Sin quórum")}


def _readable_body(s: Session, me: Member | None, handle: str) -> LocalActor:
    b = bodies.body_by_handle(s, handle)
    require_read(s, me, b)
    return b


def _state_label(_: Callable[[str], str]) -> dict[str, str]:
    return {"draft": _("Borrador"), "deliberation": _("En deliberación"),
            "vote": _("En votación"), "decided": _("Decidida"),
            "carried_out": _("Ejecutada"), "evaluated": _("Evaluada")}


@router.get("/b/{handle}")
def body_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        try:
            b = _readable_body(s, me, handle)
        except Problem as exc:
            return _error(request, me, exc, "/")
        _ = translator(language(request, me))
        rows = s.exec(select(Proposal).where(Proposal.body_id == b.id)
                      .order_by(col(Proposal.id).desc()).limit(200)).all()
        groups: dict[str, list[dict[str, Any]]] = {st: [] for st in STATES}
        for p in rows:
            groups[p.state].append(proposal_view(s, p))
        roles = roles_in(s, me, b)
        labels = _state_labels(_)
        return page(request, "body.html", me, body=b, groups=groups,
                    states=[(st, labels[st]) for st in STATES], any_proposals=bool(rows),
                    members=bodies.member_count(s, b),
                    statute=_statute_text(_, bodies.statute_of(b)), is_member="member" in roles,
                    is_facilitator="facilitator" in roles)


@router.get("/b/{handle}/proposals/new")
def new_proposal_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        if me is None:
            return _back(f"/login?next=/b/{handle}/proposals/new")
        b = bodies.body_by_handle(s, handle)
        return page(request, "proposal_new.html", me, body=b)


@router.post("/b/{handle}/proposals")
async def create_proposal(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        b = bodies.body_by_handle(s, handle)
        p = proposals.create(s, me, b, data.get("title", ""), data.get("text", ""),
                             own_uri=request.app.state.ctx.urls.actor(b.handle))
        return f"/p/{p.id}"

    return await _post(request, f"/b/{handle}/proposals/new", act)


@router.get("/p/{pid}")
def proposal_page(request: Request, pid: int, diff: str = "") -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        try:
            p = proposals.get(s, pid)
            b = proposals.body_of(s, p)
            require_read(s, me, b)
        except Problem as exc:
            return _error(request, me, exc, "/")
        _ = translator(language(request, me))
        view = proposal_view(s, p, full=True)
        roles = roles_in(s, me, b)
        is_member, is_facil = "member" in roles, "facilitator" in roles
        author = me is not None and p.author_id == me.id
        voting = p.state == "vote" and p.closes_at is not None
        due = voting and aware(p.closes_at) <= utcnow()  # type: ignore[arg-type]
        statute = bodies.statute_of(b)
        choices = [("for", _("A favor")), ("against", _("En contra")),
                   ("abstain", _("Abstención"))]
        if statute.rule == Rule.consent:
            choices.append(("block", _("Bloqueo")))
        my_vote = None
        if me is not None:
            v = s.exec(select(Vote).where(Vote.proposal_id == p.id,
                                          Vote.member_id == me.id)).first()
            my_vote = v.choice if v and v.version == p.current_version else None
        diff_text = ""
        if diff:
            try:
                a, bnum = (int(x) for x in diff.split("-", 1))
                diff_text = proposals.diff(s, p, a, bnum)
            except (ValueError, Problem):
                diff_text = ""
        d = s.exec(select(Decision).where(Decision.proposal_id == p.id)).first()
        decision = decision_view(d) if d else None
        outcomes = _outcome_labels(_)
        ids = {c["author_id"] for c in view["comments"]}
        authors = {m.id: m.display_name for m in s.exec(
            select(Member).where(col(Member.id).in_(ids))).all()} if ids else {}
        can = {
            "deliberate": p.state == "draft" and (author or is_facil),
            "open_vote": p.state == "deliberation" and is_facil,
            "close": due and is_facil,
            "vote": voting and not due and is_member,
            "amend": p.state == "deliberation" and is_member,
            "decide_amendments": p.state == "deliberation" and (author or is_facil),
            "comment": p.state in ("deliberation", "vote") and is_member,
            "execute": d is not None and d.outcome == "adopted" and is_facil
            and d.execution != "carried_out",
            "evaluate": d is not None and d.execution == "carried_out" and is_member
            and me is not None and s.exec(select(Evaluation).where(
                Evaluation.decision_id == d.id, Evaluation.member_id == me.id)).first() is None,
        }
        return page(request, "proposal.html", me, p=view, body=b, can=can, choices=choices,
                    my_vote=my_vote, my_vote_label=dict(choices).get(my_vote or "", ""),
                    state_label=_state_label(_)[p.state], diff=diff_text,
                    decision=decision, outcome_label=outcomes.get(d.outcome, "") if d else "",
                    voting_days=statute.voting_days, authors=authors,
                    rule_text=_statute_text(_, Statute.from_dict(decision["record"]["statute"]))
                    if decision else "",
                    amendment_states={"open": _("abierta"), "accepted": _("aceptada"),
                                      "rejected": _("rechazada")},
                    execution_labels={"in_progress": _("en curso"),
                                      "carried_out": _("ejecutada")})


def _proposal_action(pid: int, fn: Callable[[Session, Member, Proposal, dict[str, str]], Any]
                     ) -> Action:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        fn(s, me, proposals.get(s, pid), data)
        return f"/p/{pid}"

    return act


@router.post("/p/{pid}/deliberation")
async def deliberate(request: Request, pid: int) -> Response:
    return await _post(request, f"/p/{pid}", _proposal_action(
        pid, lambda s, me, p, d: proposals.open_deliberation(s, me, p)))


@router.post("/p/{pid}/comments")
async def comment(request: Request, pid: int) -> Response:
    return await _post(request, f"/p/{pid}", _proposal_action(
        pid, lambda s, me, p, d: proposals.comment(s, me, p, d.get("text", ""))))


@router.post("/p/{pid}/amendments")
async def amend(request: Request, pid: int) -> Response:
    return await _post(request, f"/p/{pid}", _proposal_action(
        pid, lambda s, me, p, d: proposals.amend(s, me, p, d.get("title", ""),
                                                 d.get("text", ""), d.get("reason", ""))))


@router.post("/p/{pid}/amendments/{aid}")
async def decide_amendment(request: Request, pid: int, aid: int) -> Response:
    return await _post(request, f"/p/{pid}", _proposal_action(
        pid, lambda s, me, p, d: proposals.decide_amendment(s, me, p, aid,
                                                            d.get("accept") == "1")))


@router.post("/p/{pid}/vote-open")
async def open_vote(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        days = d.get("days", "")
        closes = utcnow() + timedelta(days=int(days)) if days.isdigit() else None
        proposals.open_vote(s, me, p, closes)

    return await _post(request, f"/p/{pid}", _proposal_action(pid, fn))


@router.post("/p/{pid}/ballot")
async def ballot(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        version = int(d["version"]) if d.get("version", "").isdigit() else 0
        proposals.cast(s, me, p, version, d.get("choice", ""), d.get("reason", ""))

    return await _post(request, f"/p/{pid}", _proposal_action(pid, fn))


@router.post("/p/{pid}/close")
async def close(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        require_facilitator(s, me, proposals.body_of(s, p))
        decisions.close_vote(s, request.app.state.ctx.urls, p)

    return await _post(request, f"/p/{pid}", _proposal_action(pid, fn))


def _decision_of(s: Session, pid: int) -> Decision:
    d = s.exec(select(Decision).where(Decision.proposal_id == pid)).first()
    if d is None:
        raise Problem(409, "bad-state", "this proposal has no decision yet")
    return d


@router.post("/p/{pid}/execution")
async def execution(request: Request, pid: int) -> Response:
    return await _post(request, f"/p/{pid}", _proposal_action(
        pid, lambda s, me, p, d: decisions.set_execution(
            s, me, _decision_of(s, pid), d.get("state", ""), d.get("notes", ""))))


@router.post("/p/{pid}/evaluation")
async def evaluation(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        score = int(d["score"]) if d.get("score", "").isdigit() else 0
        decisions.evaluate(s, me, _decision_of(s, pid), score, d.get("comment", ""))

    return await _post(request, f"/p/{pid}", _proposal_action(pid, fn))


@router.get("/b/{handle}/decisions")
def decisions_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        try:
            b = _readable_body(s, me, handle)
        except Problem as exc:
            return _error(request, me, exc, "/")
        _ = translator(language(request, me))
        outcomes = _outcome_labels(_)
        rows = []
        for d in s.exec(select(Decision).where(Decision.body_id == b.id)
                        .order_by(col(Decision.id).desc()).limit(200)).all():
            p = s.get(Proposal, d.proposal_id)
            assert p is not None
            rows.append({"proposal": p.id, "title": proposals.version(s, p, d.version).title,
                         "outcome": outcomes.get(d.outcome, d.outcome),
                         "method": _("asamblea") if d.method == "assembly" else _("en línea"),
                         "date": aware(d.decided_at).strftime("%Y-%m-%d")})
        return page(request, "decisions.html", me, body=b, rows=rows)


@router.get("/b/{handle}/members")
def members_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        try:
            b = _readable_body(s, me, handle)
        except Problem as exc:
            return _error(request, me, exc, "/")
        rows = s.exec(select(Member, Membership.role).join(
            Membership, col(Membership.member_id) == col(Member.id)).where(
            Membership.body_id == b.id).order_by(col(Member.display_name))).all()
        people: dict[int, dict[str, Any]] = {}
        for m, role in rows:
            people.setdefault(m.id or 0, {"display_name": m.display_name, "roles": []})[
                "roles"].append(role)
        return page(request, "members.html", me, body=b, people=list(people.values()))


@router.get("/b/{handle}/participation")
def participation_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        try:
            b = _readable_body(s, me, handle)
        except Problem as exc:
            return _error(request, me, exc, "/")
        return page(request, "participation.html", me, body=b,
                    rows=decisions.participation(s, b))


@router.get("/b/{handle}/invitations")
def invite_page(request: Request, handle: str) -> Response:
    with _db(request) as s:
        me = current_member(request, s)
        b = bodies.body_by_handle(s, handle)
        return page(request, "invite.html", me, body=b, link="")


@router.post("/b/{handle}/invitations")
async def invite(request: Request, handle: str) -> Response:
    # Rendered directly, not redirected: the single-use link must not end up in a URL.
    with _db(request) as s:
        me = current_member(request, s)
        try:
            data = await form(request)
            b = bodies.body_by_handle(s, handle)
            require_facilitator(s, me, b)
            assert me is not None
            days = int(data["days"]) if data.get("days", "").isdigit() else 7
            raw = members.invite(s, me, b, data.get("role", "member"), days)
            s.commit()
        except Problem as exc:
            s.rollback()
            return _error(request, me, exc, f"/b/{handle}/invitations")
        link = f"{request.app.state.ctx.urls.base}/join/{raw}"
        return page(request, "invite.html", me, body=b, link=link)
