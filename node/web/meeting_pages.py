"""In-person assemblies: the form a facilitator fills in after the assembly met
(attendance in people and families, minutes, and the counts for each matter it
decided), and the list of past assemblies. The statute applies to those counts
in node.governance.decisions, exactly as to an online vote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.views import proposal_view
from node.errors import Problem, invalid
from node.governance import bodies, decisions
from node.governance.authz import require_facilitator
from node.governance.members import roles_in
from node.models import LocalActor, Meeting, Member, Proposal
from node.models.base import aware
from node.web.actions import open_session, refusal, run_action, see_other, show_body
from node.web.render import page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)


def _count(data: dict[str, str], key: str) -> int:
    raw = data.get(key, "").strip() or "0"
    if not raw.isdigit():
        raise invalid("bad-counts", "counts are whole numbers, 0 or more")
    return int(raw)


def _held_at(raw: str) -> datetime:
    try:
        when = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise invalid("bad-date", "give the date and time the assembly met") from exc
    # The form's local time is taken as UTC: the page says so next to the field.
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _open_matters(s: Session, body_id: int | None) -> list[Proposal]:
    return list(s.exec(select(Proposal).where(
        Proposal.body_id == body_id, col(Proposal.state).in_(["deliberation", "vote"]))
        .order_by(col(Proposal.id))).all())


@router.get("/b/{handle}/meetings/new")
def new_meeting_page(request: Request, handle: str) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other(f"/login?next=/b/{handle}/meetings/new")
        try:
            b = bodies.body_by_handle(s, handle)
            require_facilitator(s, me, b)
        except Problem as exc:
            return refusal(request, me, exc, f"/b/{handle}")
        matters = [proposal_view(s, p) for p in _open_matters(s, b.id)]
        return page(request, "meeting_new.html", me, body=b, matters=matters,
                    consent=bodies.statute_of(b).rule.value == "consent")


@router.post("/b/{handle}/meetings")
async def record_meeting(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> str:
        b = bodies.body_by_handle(s, handle)
        require_facilitator(s, me, b)
        items: list[dict[str, Any]] = []
        for p in _open_matters(s, b.id):
            if data.get(f"decide-{p.id}") != "1":
                continue
            items.append({"proposal_id": p.id, "for": _count(data, f"for-{p.id}"),
                          "against": _count(data, f"against-{p.id}"),
                          "abstain": _count(data, f"abstain-{p.id}"),
                          "block": _count(data, f"block-{p.id}")})
        decisions.record_meeting(
            s, me, b, request.app.state.ctx.urls, _held_at(data.get("held_at", "")),
            data.get("place", "")[:300], _count(data, "attendance"),
            _count(data, "families"), data.get("agenda", ""), data.get("minutes", ""), items)
        return f"/b/{handle}/meetings"

    return await run_action(request, f"/b/{handle}/meetings/new", act)


@router.get("/b/{handle}/meetings")
def meetings_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = [{"held_at": aware(m.held_at).strftime("%Y-%m-%d %H:%M"), "place": m.place,
                 "attendance": m.attendance, "families": m.families, "agenda": m.agenda,
                 "minutes": m.minutes, "id": m.id}
                for m in s.exec(select(Meeting).where(Meeting.body_id == b.id)
                                .order_by(col(Meeting.held_at).desc()).limit(100)).all()]
        return page(request, "meetings.html", me, body=b, rows=rows,
                    is_facilitator="facilitator" in roles_in(s, me, b))

    return show_body(request, handle, view)
