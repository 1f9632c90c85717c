"""What every page module shares: a session per request, running a form action for
the logged-in member (refusals shown as a page, not a crash), and the labels of
states, outcomes and statutes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from node.errors import Problem
from node.errors.text import field_for, say
from node.governance import bodies, proposals
from node.governance.authz import require_read
from node.governance.members import LoginLimiter
from node.governance.statute import Rule
from node.models import (
    LocalActor,
    Member,
    Proposal,
)
from node.web.i18n import translator
from node.web.notices import leave
from node.web.render import language, page
from node.web.session import current_member, form


def login_limiter(request: Request) -> LoginLimiter:
    """The app's one login limiter, shared with the API's login (node.api.v1.deps)."""
    found: LoginLimiter = request.app.state.login_limiter
    return found


def open_session(request: Request) -> Session:
    return Session(request.app.state.ctx.engine, expire_on_commit=False)


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def refusal(request: Request, me: Member | None, exc: Problem, back: str) -> Response:
    lang = language(request, me)
    _ = translator(lang)
    typed = exc.extra.get("typed") or []
    return page(request, "message.html", me, status=exc.status, title=_("No se pudo"),
                detail=say(exc, lang), back=back, typed=typed)


# An action returns where to go next, or that and what to tell the person
# (a Spanish sentence from the templates' catalogue, translated for them here).
Done = str | tuple[str, str]
Action = Callable[[Session, Member, dict[str, str]], Done]


async def run_action(request: Request, back: str, action: Action, done: str = "") -> Response:
    """Run a form action for the logged-in member, then go to the page it names with
    a notice: what happened (`done`, or the message the action returns), or why it
    was refused, next to the form with what was typed kept.

    Only reading the form happens on the event loop: finding the member, the action
    and its commit are blocking SQL (and the page is rendered with them), so they run
    in a worker thread while the node keeps answering."""
    try:
        data = await form(request)
    except Problem as exc:
        return await asyncio.to_thread(refused_form, request, exc, back)
    return await asyncio.to_thread(_act, request, back, action, data, done)


async def member_of(request: Request) -> Member | None:
    """The logged-in member, looked up in a worker thread (a query: not on the loop)."""
    return await asyncio.to_thread(_member, request)


def _member(request: Request) -> Member | None:
    with open_session(request) as s:
        return current_member(request, s)


def refused_form(request: Request, exc: Problem, back: str) -> Response:
    """A form refused before it ran (its token, its size): back to `back` with the
    notice, or, for a member whose session ended meanwhile, to the login."""
    with open_session(request) as s:
        me = current_member(request, s)
        if exc.code == "csrf" and me is None:
            # A member's form, sent after logging out (another tab, or the session's
            # age): reloading would post the same dead form again; logging in helps.
            exc = Problem(403, "session-ended",
                          "your session had ended; log in and send it again",
                          typed=exc.extra.get("typed") or [])
            back = f"/login?next={back}"
        return refusal(request, me, exc, back)


def _act(request: Request, back: str, action: Action, data: dict[str, str], done: str
         ) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other(f"/login?next={back}")
        lang = language(request, me)
        try:
            result = action(s, me, data)
            s.commit()
        except Problem as exc:
            s.rollback()
            response = see_other(back)
            leave(s, request, response, {
                "error": say(exc, lang), "field": field_for(exc),
                "status": exc.status, "code": exc.code, "form": data})
            s.commit()
            return response
        target, message = (result, done) if isinstance(result, str) else result
        response = see_other(target)
        # Every action says something; the generic word only where the form said nothing.
        leave(s, request, response, {"ok": translator(lang)(message or "Hecho.")})
        s.commit()
    return response


# How a body's proposals are listed (proposal_actions.stage): a member body's decision
# on a federated matter waits for the federation's before it counts as decided.
STATES = ["vote", "deliberation", "draft", "awaiting_federation", "decided", "carried_out",
          "evaluated", "withdrawn"]


def state_group_labels(_: Callable[[str], str]) -> dict[str, str]:
    return {"draft": _("Borradores"), "deliberation": _("En deliberación"),
            "vote": _("En votación"), "decided": _("Decididas"),
            "awaiting_federation": _("Esperando a la federación"),
            "carried_out": _("Ejecutadas"), "evaluated": _("Evaluadas"),
            "withdrawn": _("Retiradas")}


def statute_text(_: Callable[[str], str], statute: Any) -> str:
    rule = {Rule.majority: _("mayoría simple"),
            Rule.qualified: _("mayoría calificada de") + f" {statute.threshold}",
            Rule.consent: _("consenso (aprobada salvo bloqueo)")}[statute.rule]
    basis = _("de los integrantes") if statute.quorum_basis.value == "members" else \
        _("de las familias")
    return f"{rule}; {_('quórum')} {statute.quorum} {basis}"


def outcome_labels(_: Callable[[str], str]) -> dict[str, str]:
    return {"adopted": _("Aprobada"), "rejected": _("Rechazada"), "no_quorum": _("Sin quórum")}


def position_words(_: Callable[[str], str]) -> dict[str, str]:
    """A member body's decision on a federated matter, said as its position."""
    return {"adopted": _("Aprobar"), "rejected": _("Rechazar"), "no_quorum": _("Sin quórum")}


def position_labels(_: Callable[[str], str]) -> dict[str, str]:
    """A mandate's positions, as its page and an acta say them."""
    return {"approve": _("aprobar"), "reject": _("rechazar"), "abstain": _("abstenerse"),
            "approve_with_amendments": _("aprobar solo con enmiendas"),
            "free": _("libre, dentro de límites")}


def readable_body(s: Session, me: Member | None, handle: str) -> LocalActor:
    b = bodies.body_by_handle(s, handle)
    require_read(s, me, b)
    return b


def state_labels(_: Callable[[str], str]) -> dict[str, str]:
    return {"draft": _("Borrador"), "deliberation": _("En deliberación"),
            "vote": _("En votación"), "decided": _("Decidida"),
            "carried_out": _("Ejecutada"), "evaluated": _("Evaluada"),
            "withdrawn": _("Retirada")}




BodyView = Callable[[Session, Member | None, LocalActor], Response]


def show_body(request: Request, handle: str, view: BodyView) -> Response:
    """A page about a body, for whoever may read it (anyone, for a public body); a
    refusal is shown as a page, never a crash."""
    with open_session(request) as s:
        me = current_member(request, s)
        try:
            b = readable_body(s, me, handle)
        except Problem as exc:
            return refusal(request, me, exc, "/")
        return view(s, me, b)


def proposal_action(pid: int, fn: Callable[[Session, Member, Proposal, dict[str, str]], Any]
                    ) -> Action:
    """A form about proposal `pid`: run `fn` on it, then back to its page."""
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        fn(s, me, proposals.get(s, pid), data)
        return f"/p/{pid}"

    return act


def namer(s: Session, urls: Any, b: LocalActor) -> Any:
    """Readable names for the actors and enterprises the page mentions: this body's
    name and its enterprises' names; others as handle@host."""
    known = {urls.actor(b.handle): b.name}
    from node.economy import enterprises

    for e in enterprises.listed(s, b):
        known[enterprises.uri(urls, b, e.slug)] = e.name

    def name_of(uri: str) -> str:
        if uri in known:
            return known[uri]
        parts = urlsplit(uri)
        path = parts.path.rstrip("/").split("/")
        if "enterprises" in path:
            i = path.index("enterprises")
            return f"{path[i + 1] if i + 1 < len(path) else ''} ({path[i - 1]}@{parts.netloc})"
        return f"{path[-1]}@{parts.netloc}" if path and path[-1] else uri

    return name_of
