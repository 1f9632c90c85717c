"""A body's pages: home with its proposals, new proposal, decisions, members,
participation. No JavaScript needed; the rules live in node.governance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node import pending
from node.api.v1.views import proposal_view
from node.federations import membership
from node.governance import assemblies, authz, bodies, decisions, proposals
from node.governance import participation as turnouts
from node.governance.members import ROLES
from node.governance.proposal_actions import stage
from node.models import (
    Decision,
    LocalActor,
    Member,
    Membership,
    Proposal,
)
from node.models.base import aware
from node.records import exports
from node.web import timefmt
from node.web.actions import (
    STATES,
    outcome_labels,
    show_body,
    state_group_labels,
)
from node.web.admin_pages import (
    body_links,
    kind_labels,
    member_bodies_phrase,
    members_phrase,
    pending_labels,
    plain_rule,
    role_labels,
)
from node.web.i18n import translator
from node.web.pictures.participation import participation
from node.web.render import language, page

router = APIRouter(include_in_schema=False)


@router.get("/b/{handle}")
def body_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        rows = s.exec(select(Proposal).where(Proposal.body_id == b.id)
                      .order_by(col(Proposal.id).desc()).limit(200)).all()
        groups: dict[str, list[dict[str, Any]]] = {st: [] for st in STATES}
        now = request.app.state.ctx.clock.now()
        for p in rows:
            groups[stage(p)].append(proposal_view(s, p, now))
        labels = state_group_labels(_)
        urls = request.app.state.ctx.urls
        waiting = pending.for_member(request.app.state.ctx.tx(s, me)) if me is not None else []
        soon = assemblies.upcoming(s, b, request.app.state.ctx.clock.now(), limit=5)
        return page(request, "body.html", me, body=b, groups=groups, soon=soon,
                    states=[(st, labels[st]) for st in STATES], any_proposals=bool(rows),
                    members=_members_line(s, _, b),
                    kind=kind_labels(_).get(b.kind, "") if b.parent_id else "",
                    statute=plain_rule(_, bodies.statute_of(b)), pending=waiting,
                    pending_words=pending_labels(_), profile=urls.actor(b.handle),
                    **body_links(s, _, me, b))

    return show_body(request, handle, view)


def _members_line(s: Session, _: Any, b: LocalActor) -> str:
    """Who a body is made of: a federation's member bodies (its people are only those
    who run it), else its people."""
    joined = len(membership.members_of(s, b))
    if joined:
        return str(member_bodies_phrase(_, joined))
    return str(members_phrase(_, bodies.member_count(s, b)))


@router.get("/b/{handle}/decisions")
def decisions_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        outcomes = outcome_labels(_)
        tz = request.app.state.ctx.settings.timezone
        rows = []
        for d in s.exec(select(Decision).where(Decision.body_id == b.id)
                        .order_by(col(Decision.id).desc()).limit(200)).all():
            p = s.get(Proposal, d.proposal_id)
            assert p is not None
            rows.append({"proposal": p.id, "title": proposals.version(s, p, d.version).title,
                         "outcome": outcomes.get(d.outcome, d.outcome),
                         "method": _("asamblea") if d.method == "assembly" else _("en línea"),
                         "date": timefmt.day(aware(d.decided_at), tz)})
        return page(request, "decisions.html", me, body=b, rows=rows,
                    exports=exports.offered(s, me, b))

    return show_body(request, handle, view)


@router.get("/b/{handle}/members")
def members_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = s.exec(select(Member, Membership.role).join(
            Membership, col(Membership.member_id) == col(Member.id)).where(
            Membership.body_id == b.id).order_by(col(Member.display_name))).all()
        _ = translator(language(request, me))
        words = role_labels(_)
        people: dict[int, dict[str, Any]] = {}
        for m, role in rows:
            people.setdefault(m.id or 0, {"display_name": m.display_name, "roles": set()})[
                "roles"].add(role)
        for person in people.values():
            person["roles"] = [words[r] for r in ROLES if r in person["roles"]]
        return page(request, "members.html", me, body=b, people=list(people.values()),
                    count=members_phrase(_, len(people)),
                    manage="manage_members" in authz.body_actions(s, me, b))

    return show_body(request, handle, view)


@router.get("/b/{handle}/participation")
def participation_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = decisions.participation(s, b)
        for row in rows:
            p = s.get(Proposal, row["proposal"])
            row["title"] = proposals.version(s, p, p.current_version).title if p else ""
        tz = request.app.state.ctx.settings.timezone
        picture = participation(b.name, turnouts.over_time(s, b),
                                lambda v: timefmt.day(v, tz),
                                translator(language(request, me)))
        return page(request, "participation.html", me, body=b, rows=rows, picture=picture,
                    exports=exports.offered(s, me, b))

    return show_body(request, handle, view)


