"""Setting up and running a body from the pages: its name and description, the bodies
inside it, its statute (with the rule said in plain words), members and their roles,
and password reset links. Every form offers only what node.governance.authz offers
the person, and the domain refuses the rest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.errors import Problem
from node.errors.text import say
from node.federations import membership
from node.governance import accounts, authz, bodies, members
from node.governance.statute import QuorumBasis, Rule, Statute, StatuteError
from node.models import LocalActor, Member, Membership
from node.web.actions import (
    readable_body,
    refusal,
    refused_form,
    run_action,
    show_body,
)
from node.web.i18n import translator
from node.web.render import language, page
from node.web.secret_forms import once, secret_for, shown_once
from node.web.session import form

router = APIRouter(include_in_schema=False)
Tr = Callable[[str], str]

# Shares a qualified majority may ask for, as people say them.
THRESHOLDS = ("3/5", "2/3", "3/4", "1")


def kind_labels(_: Tr) -> dict[str, str]:
    return {"assembly": _("Asamblea"),
            "citizens_assembly": _("Asamblea de ciudadanos y ciudadanas"),
            "communal_council": _("Consejo comunal"),
            "communal_parliament": _("Parlamento comunal"),
            "sectoral_council": _("Consejo sectorial"),
            "workers_council": _("Consejo de trabajadores y trabajadoras")}


def role_labels(_: Tr) -> dict[str, str]:
    return {"member": _("integrante"), "facilitator": _("coordinador o coordinadora"),
            "spokesperson": _("vocero o vocera")}


def threshold_labels(_: Tr) -> dict[str, str]:
    return {"3/5": _("tres quintos"), "2/3": _("dos tercios"), "3/4": _("tres cuartos"),
            "1": _("todos los votos (unanimidad)")}


def percent(share: Fraction) -> str:
    """66,7 for 2/3; 50 for 1/2 (a comma, as written in Venezuela)."""
    value = round(float(share) * 100, 1)
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}".replace(".", ",")


def members_phrase(_: Tr, n: int) -> str:
    return _("1 integrante") if n == 1 else _("%(n)s integrantes") % {"n": n}


def member_bodies_phrase(_: Tr, n: int) -> str:
    """A federation's members are bodies: "3 instancias miembros"."""
    return _("1 instancia miembro") if n == 1 else _("%(n)s instancias miembros") % {"n": n}


def plain_rule(_: Tr, st: Statute) -> str:
    """The statute in one sentence: "Se aprueba con más de la mitad de los votos, si
    participa al menos el 50 % de las familias. La votación dura 7 días." """
    if st.rule == Rule.majority:
        rule = _("Se aprueba con más de la mitad de los votos")
    elif st.rule == Rule.qualified:
        rule = _("Se aprueba con al menos %(share)s %% de los votos a favor") % {
            "share": percent(st.threshold)}
    else:
        rule = _("Se aprueba salvo que alguien la bloquee")
    if st.quorum == 0:
        quorum = _(", sin mínimo de participación")
    elif st.quorum_basis == QuorumBasis.families:
        quorum = _(", si participa al menos el %(pct)s %% de las familias") % {
            "pct": percent(st.quorum)}
    else:
        quorum = _(", si participa al menos el %(pct)s %% de las y los integrantes") % {
            "pct": percent(st.quorum)}
    days = _("La votación dura 1 día.") if st.voting_days == 1 else \
        _("La votación dura %(n)s días.") % {"n": st.voting_days}
    secret = _("El voto es secreto.") if st.secret_ballot else \
        _("Se sabe quién votó qué.")
    # "50 %" never split over two lines on a narrow screen.
    return f"{rule}{quorum}. {days} {secret}".replace(" %", "\u00a0%")


def _share(raw: str, field: str) -> Fraction:
    try:
        value = Fraction(Decimal((raw or "").strip().replace(",", ".")))
    except (InvalidOperation, ValueError, OverflowError) as exc:  # "Infinity" overflows
        raise Problem(422, "bad-statute", "write a number from 0 to 100", field=field) from exc
    return value / 100


def statute_from_form(d: dict[str, str], old: Statute) -> Statute:
    try:
        days = int(d.get("voting_days", "") or old.voting_days)
    except ValueError as exc:
        raise Problem(422, "bad-statute", "the voting period is a number of days",
                      field="voting_days") from exc
    threshold = d.get("threshold") or str(old.threshold)
    if threshold not in THRESHOLDS and d.get("threshold"):
        raise Problem(422, "bad-statute", "choose one of the shares offered", field="threshold")
    try:
        return Statute(
            rule=Rule(d.get("rule") or old.rule.value),
            threshold=Fraction(threshold),
            quorum_basis=QuorumBasis(d.get("quorum_basis") or old.quorum_basis.value),
            quorum=_share(d["quorum"], "quorum") if "quorum" in d else old.quorum,
            voting_days=days, secret_ballot=d.get("secret_ballot") == "1",
            admission=d.get("admission") or old.admission,
            weighting=d.get("weighting") or old.weighting)
    except (StatuteError, ValueError) as exc:
        raise Problem(422, "bad-statute", str(exc)) from exc


def _coordinated(request: Request, handle: str, view: Callable[..., Response]) -> Response:
    """A set-up page: for the body's coordination only (others get the refusal page)."""
    def guarded(s: Session, me: Member | None, b: LocalActor) -> Response:
        try:
            authz.require_action(s, me, b, "edit")
        except Problem as exc:
            return refusal(request, me, exc, f"/b/{handle}")
        assert me is not None
        return view(s, me, b)

    return show_body(request, handle, guarded)


@router.get("/b/{handle}/admin")
def admin_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        inside = [(c, kind_labels(_).get(c.kind, ""), members_phrase(_, bodies.member_count(s, c)))
                  for c in bodies.children(s, b)]
        kinds = [(k, v) for k, v in kind_labels(_).items() if k != "assembly"]
        return page(request, "admin.html", me, body=b, inside=inside, kinds=kinds,
                    rule=plain_rule(_, bodies.statute_of(b)),
                    actions=authz.body_actions(s, me, b))

    return _coordinated(request, handle, view)


@router.post("/b/{handle}/admin/profile")
async def save_profile(request: Request, handle: str) -> Response:
    ctx = request.app.state.ctx

    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        b = bodies.body_by_handle(s, handle)
        bodies.describe(request.app.state.ctx.tx(s, me), b, d.get("name", ""),
                        d.get("summary", ""))
        # Federations and followers keep a copy of the actor document: send the new one.
        membership.announce_actor(ctx.tx(s, me), b)
        return f"/b/{handle}/admin"

    return await run_action(request, f"/b/{handle}/admin", act,
                            done="Se guardaron el nombre y la descripción.")


@router.post("/b/{handle}/admin/bodies")
async def add_body(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> str:
        parent = bodies.body_by_handle(s, handle)
        made = bodies.add_body(request.app.state.ctx.tx(s, me), parent, d.get("name", ""),
                               d.get("kind", ""), public=d.get("private") != "1")
        return f"/b/{made.handle}"

    response = await run_action(request, f"/b/{handle}/admin", act,
                                done="Se creó la instancia; usted la coordina.")
    # This process answers for the new body at once; the others through the change feed.
    request.app.state.ctx.reload_actors()
    return response


def _statute_page(request: Request, s: Session, me: Member, b: LocalActor,
                  typed: dict[str, str] | None = None) -> Response:
    """The statute form; with `typed` (the preview button), the rule those values would
    make, said in words, and the form filled with them."""
    _ = translator(language(request, me))
    current = bodies.statute_of(b)
    shown, preview, error = current, "", ""
    if typed is not None:
        try:
            shown = statute_from_form(typed, current)
            preview = plain_rule(_, shown)
        except Problem as exc:
            error = say(exc, language(request, me))
    return page(request, "admin_statute.html", me, body=b, st=shown,
                quorum_pct=percent(shown.quorum), rule=plain_rule(_, current),
                preview=preview, preview_error=error,
                thresholds=threshold_labels(_), federation=b.level != "commune")


@router.get("/b/{handle}/admin/statute")
def statute_page(request: Request, handle: str) -> Response:
    return _coordinated(request, handle, lambda s, me, b: _statute_page(request, s, me, b))


@router.post("/b/{handle}/admin/statute/preview")
async def preview_statute(request: Request, handle: str) -> Response:
    # A POST (with the form's token) rather than a GET: the token stays out of URLs.
    # Nothing is written.
    try:
        typed = await form(request)
    except Problem as exc:
        return await asyncio.to_thread(refused_form, request, exc,
                                       f"/b/{handle}/admin/statute")
    return await asyncio.to_thread(
        _coordinated, request, handle,
        lambda s, me, b: _statute_page(request, s, me, b, typed))


@router.post("/b/{handle}/admin/statute")
async def save_statute(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> tuple[str, str]:
        b = bodies.body_by_handle(s, handle)
        st = statute_from_form(d, bodies.statute_of(b))
        bodies.change_statute(request.app.state.ctx.tx(s, me), b, st)
        _ = translator(language(request, me))
        return f"/b/{handle}/admin", _("Estatuto guardado:") + " " + plain_rule(_, st)

    return await run_action(request, f"/b/{handle}/admin/statute", act)


@router.get("/b/{handle}/admin/members")
def members_admin(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        words = role_labels(_)
        rows = s.exec(select(Member).join(
            Membership, col(Membership.member_id) == col(Member.id)).where(
            Membership.body_id == b.id, Membership.role == "member")
            .order_by(col(Member.display_name))).all()
        people = []
        for m in rows:
            roles = members.roles_in(s, m, b)
            people.append({"id": m.id, "name": m.display_name, "username": m.username,
                           "roles": [words[r] for r in members.ROLES if r in roles],
                           "actions": authz.member_actions(s, me, b, m)})
        return page(request, "admin_members.html", me, body=b, people=people,
                    count=members_phrase(_, len(people)), labels=action_labels(_),
                    once=once())

    return _coordinated(request, handle, view)


def action_labels(_: Tr) -> dict[str, str]:
    return {"grant_facilitator": _("Nombrar en la coordinación"),
            "revoke_facilitator": _("Quitar de la coordinación"),
            "grant_spokesperson": _("Nombrar vocero o vocera"),
            "revoke_spokesperson": _("Quitar la vocería"),
            "remove": _("Retirar de la instancia"),
            "reset_password": _("Crear enlace para cambiar la contraseña")}


def _after(s: Session, me: Member, b: LocalActor) -> str:
    """Back to the roster, unless the person just stepped down from coordinating."""
    if "manage_members" in authz.body_actions(s, me, b):
        return f"/b/{b.handle}/admin/members"
    return f"/b/{b.handle}"


def _target(s: Session, mid: int) -> Member:
    m = s.get(Member, mid)
    if m is None:
        raise Problem(404, "not-found", "no such member")
    return m


def _withdrawn(_: Callable[[str], str], done: str, withdrawn: int) -> str:
    """What a role change did, and the invitations it withdrew with the coordination."""
    if withdrawn == 0:
        return done + "."
    if withdrawn == 1:
        return done + _(" y se retiró 1 invitación pendiente que había creado.")
    return done + _(" y se retiraron %(n)s invitaciones pendientes que había creado.") % {
        "n": withdrawn}


@router.post("/b/{handle}/admin/members/{mid}/role")
async def change_role(request: Request, handle: str, mid: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> tuple[str, str]:
        b = bodies.body_by_handle(s, handle)
        target = _target(s, mid)
        withdrawn = members.change_role(request.app.state.ctx.tx(s, me), b, target,
                                        d.get("action", ""))
        _ = translator(language(request, me))
        return _after(s, me, b), _withdrawn(_, _("Se cambió el rol de %(name)s") % {
            "name": target.display_name}, withdrawn)

    return await run_action(request, f"/b/{handle}/admin/members", act)


@router.post("/b/{handle}/admin/members/{mid}/remove")
async def remove(request: Request, handle: str, mid: RowId) -> Response:
    def act(s: Session, me: Member, d: dict[str, str]) -> tuple[str, str]:
        b = bodies.body_by_handle(s, handle)
        target = _target(s, mid)
        withdrawn = members.remove_member(request.app.state.ctx.tx(s, me), b, target,
                                          d.get("reason", ""))
        _ = translator(language(request, me))
        return _after(s, me, b), _withdrawn(_, _("%(name)s ya no integra %(body)s") % {
            "name": target.display_name, "body": b.name}, withdrawn)

    return await run_action(request, f"/b/{handle}/admin/members", act)


@router.post("/b/{handle}/admin/members/{mid}/reset")
async def reset_link(request: Request, handle: str, mid: RowId) -> Response:
    back = f"/b/{handle}/admin/members"

    def act(s: Session, me: Member, d: dict[str, str]) -> Response:
        b = bodies.body_by_handle(s, handle)
        target = _target(s, mid)
        tx = request.app.state.ctx.tx(s, me)
        # The same form sent again names the same link (node.web.secret_forms): it is
        # shown again, and the one already handed over keeps working.
        raw = secret_for(request, d, "reset", b.handle, str(target.id))
        again = raw is not None and accounts.reset_by_token(s, raw) is not None
        raw = accounts.make_reset(tx, b, target, token=raw)
        s.commit()
        usable = accounts.usable_reset(tx, raw)
        link = f"{request.app.state.ctx.urls.base}/reset/{raw}" if usable else ""
        return page(request, "admin_reset.html", me, body=b, person=target.display_name,
                    link=link, again=again,
                    valid_hours=int(accounts.RESET_VALID.total_seconds() // 3600))

    return await shown_once(request, back, act)


def body_links(s: Session, _: Tr, me: Member | None, b: LocalActor) -> dict[str, Any]:
    """What the body's own page shows about set-up: its parent, the bodies inside it,
    and the coordination's actions (for gov_pages)."""
    parent = s.get(LocalActor, b.parent_id) if b.parent_id else None
    if parent is not None:
        try:
            readable_body(s, me, parent.handle)
        except Problem:
            parent = None
    inside = [c for c in bodies.children(s, b) if authz.can_read(s, me, c)]
    return {"parent": parent, "inside": inside, "kind_words": kind_labels(_),
            "actions": authz.body_actions(s, me, b)}


def pending_labels(_: Tr) -> dict[str, str]:
    return {"vote": _("Votar"), "amendment": _("Votar una enmienda"),
            "mandate": _("Votar ante la federación"),
            "exchange": _("Responder un intercambio"),
            "join": _("Solicitud para unirse"), "draft": _("Su borrador")}
