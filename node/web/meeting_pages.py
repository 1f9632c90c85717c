"""In-person assemblies: the form a coordinator fills in after the assembly met (its
day and time as people write them, the people present and, when the statute counts
families, the families present; minutes, and the counts for each matter it
decided), and the list of past assemblies. The statute applies to those counts in
node.governance.decisions, exactly as to an online vote."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.views import proposal_view
from node.errors import Problem
from node.governance import assemblies, bodies, decisions
from node.governance.authz import require_facilitator
from node.governance.members import roles_in
from node.models import LocalActor, Meeting, Member
from node.models.base import MAX_ID, aware
from node.web import timefmt
from node.web.actions import Done, open_session, refusal, run_action, see_other, show_body
from node.web.render import page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)


def _count(data: dict[str, str], key: str) -> int:
    raw = data.get(key, "").strip() or "0"
    # isascii: str.isdigit() is also true of "²", which int() refuses.
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise Problem(422, "bad-counts", "counts are whole numbers, 0 or more", field=key)
    return int(raw)


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
        now = request.app.state.ctx.clock.now()
        matters = [proposal_view(s, p, now) for p in assemblies.open_matters(s, b)]
        statute = bodies.statute_of(b)
        called = assemblies.due(s, b, now)
        return page(request, "meeting_new.html", me, body=b, matters=matters,
                    called=called, chosen=request.query_params.get("assembly", ""),
                    consent=statute.rule.value == "consent",
                    count_families=statute.quorum_basis.value == "families")


@router.post("/b/{handle}/meetings")
async def record_meeting(request: Request, handle: str) -> Response:
    def act(s: Session, me: Member, data: dict[str, str]) -> Done:
        b = bodies.body_by_handle(s, handle)
        require_facilitator(s, me, b)
        items: list[dict[str, Any]] = []
        for p in assemblies.open_matters(s, b):
            if data.get(f"decide-{p.id}") != "1":
                continue
            items.append({"proposal_id": p.id, "for": _count(data, f"for-{p.id}"),
                          "against": _count(data, f"against-{p.id}"),
                          "abstain": _count(data, f"abstain-{p.id}"),
                          "block": _count(data, f"block-{p.id}")})
        tz = request.app.state.ctx.settings.timezone
        held_at = timefmt.parse(data.get("held_at", ""), tz, field="held_at")
        called = data.get("assembly", "")
        _, made = decisions.record_meeting(
            request.app.state.ctx.tx(s, me), b, held_at,
            data.get("place", "")[:300], _count(data, "attendance"),
            _count(data, "families"), data.get("agenda", ""), data.get("minutes", ""), items,
            assembly_id=int(called) if called.isascii() and called.isdigit() else None)
        if not made:
            return f"/b/{handle}/meetings", "Asamblea registrada."
        return f"/b/{handle}/meetings", "Asamblea registrada con sus decisiones."

    return await run_action(request, f"/b/{handle}/meetings/new", act)


@router.get("/b/{handle}/meetings")
def meetings_page(request: Request, handle: str) -> Response:
    def view(s: Session, me: Member | None, b: LocalActor) -> Response:
        rows = [{"held_at": aware(m.held_at), "place": m.place,
                 "attendance": m.attendance, "families": m.families, "agenda": m.agenda,
                 "minutes": m.minutes, "id": m.id}
                for m in s.exec(select(Meeting).where(Meeting.body_id == b.id)
                                .order_by(col(Meeting.held_at).desc(), col(Meeting.id).desc())
                                .limit(100)).all()]
        return page(request, "meetings.html", me, body=b, rows=rows,
                    is_facilitator="facilitator" in roles_in(s, me, b))

    return show_body(request, handle, view)
