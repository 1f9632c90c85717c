"""A body's pages: home with its proposals, new proposal, decisions, members,
participation. No JavaScript needed; the rules live in node.governance."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.views import proposal_view
from node.governance import bodies, decisions, proposals
from node.governance.members import roles_in
from node.models import (
    Decision,
    LocalActor,
    Member,
    Membership,
    Proposal,
)
from node.models.base import aware
from node.web.actions import (
    STATES,
    outcome_labels,
    show_body,
    state_group_labels,
    statute_text,
)
from node.web.i18n import translator
from node.web.render import language, page

router = APIRouter(include_in_schema=False)


@router.get("/b/{handle}")
def body_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        rows = s.exec(select(Proposal).where(Proposal.body_id == b.id)
                      .order_by(col(Proposal.id).desc()).limit(200)).all()
        groups: dict[str, list[dict[str, Any]]] = {st: [] for st in STATES}
        for p in rows:
            groups[p.state].append(proposal_view(s, p))
        roles = roles_in(s, me, b)
        labels = state_group_labels(_)
        return page(request, "body.html", me, body=b, groups=groups,
                    states=[(st, labels[st]) for st in STATES], any_proposals=bool(rows),
                    members=bodies.member_count(s, b),
                    statute=statute_text(_, bodies.statute_of(b)), is_member="member" in roles,
                    is_facilitator="facilitator" in roles)

    return show_body(request, handle, view)


@router.get("/b/{handle}/decisions")
def decisions_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        _ = translator(language(request, me))
        outcomes = outcome_labels(_)
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

    return show_body(request, handle, view)


@router.get("/b/{handle}/members")
def members_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = s.exec(select(Member, Membership.role).join(
            Membership, col(Membership.member_id) == col(Member.id)).where(
            Membership.body_id == b.id).order_by(col(Member.display_name))).all()
        people: dict[int, dict[str, Any]] = {}
        for m, role in rows:
            people.setdefault(m.id or 0, {"display_name": m.display_name, "roles": []})[
                "roles"].append(role)
        return page(request, "members.html", me, body=b, people=list(people.values()))

    return show_body(request, handle, view)


@router.get("/b/{handle}/participation")
def participation_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        return page(request, "participation.html", me, body=b,
                    rows=decisions.participation(s, b))

    return show_body(request, handle, view)


