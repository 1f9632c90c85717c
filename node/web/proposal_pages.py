"""A proposal's page and its forms: deliberation, comments in threads, amendments
(decided by the author or put to a vote), the vote, closing, execution and
evaluation. Every form carries a CSRF token; the rules live in node.governance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.v1.views import decision_view, proposal_view
from node.errors import Problem
from node.federations import service
from node.governance import amendments, bodies, decisions, proposals
from node.governance.authz import require_read
from node.governance.members import roles_in
from node.governance.statute import Rule, Statute, statute_of_vote
from node.models import (
    Amendment,
    AmendmentVote,
    Decision,
    Evaluation,
    Member,
    Proposal,
    Vote,
)
from node.models.base import aware, utcnow
from node.web.actions import (
    member_of,
    open_session,
    outcome_labels,
    proposal_action,
    refusal,
    run_action,
    state_labels,
    statute_text,
)
from node.web.i18n import translator
from node.web.matter_pages import matter_context
from node.web.render import language, page
from node.web.session import current_member

router = APIRouter(include_in_schema=False)
# Replies nest visually only this deep, so a long exchange stays readable at 360 px.
MAX_INDENT = 4


def comment_tree(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Comments in reading order, each with its depth: a reply follows what it answers."""
    children: dict[int | None, list[dict[str, Any]]] = {}
    for c in comments:
        children.setdefault(c["parent_id"], []).append(c)
    out: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int) -> None:
        for c in children.get(parent, []):
            out.append({**c, "depth": min(depth, MAX_INDENT)})
            walk(c["id"], depth + 1)

    walk(None, 0)
    return out


@router.get("/p/{pid}")
def proposal_page(request: Request, pid: int, diff: str = "") -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        try:
            p = proposals.get(s, pid)
            b = proposals.body_of(s, p)
            require_read(s, me, b)
        except Problem as exc:
            return refusal(request, me, exc, "/")
        _ = translator(language(request, me))
        view = proposal_view(s, p, full=True)
        roles = roles_in(s, me, b)
        is_member, is_facil = "member" in roles, "facilitator" in roles
        author = me is not None and p.author_id == me.id
        voting = p.state == "vote" and p.closes_at is not None
        due = voting and aware(p.closes_at) <= utcnow()  # type: ignore[arg-type]
        statute = bodies.statute_of(b)
        # The ballot offers what the vote's own (frozen) rule allows.
        rules = statute_of_vote(p, b)
        choices = [("for", _("A favor")), ("against", _("En contra")),
                   ("abstain", _("Abstención"))]
        if rules.rule == Rule.consent:
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
        outcomes = outcome_labels(_)
        ids = {c["author_id"] for c in view["comments"]}
        my_amendment_votes: dict[int, str] = {}
        if me is not None:
            my_amendment_votes = {v.amendment_id: v.choice for v in s.exec(
                select(AmendmentVote).where(AmendmentVote.member_id == me.id, col(
                    AmendmentVote.amendment_id).in_([a["id"] for a in view["amendments"]])))}
        now_iso = utcnow().isoformat()
        authors = {m.id: m.display_name for m in s.exec(
            select(Member).where(col(Member.id).in_(ids))).all()} if ids else {}
        can = {
            "deliberate": p.state == "draft" and (author or is_facil),
            "open_vote": p.state == "deliberation" and is_facil,
            "close": due and is_facil,
            "vote": voting and not due and is_member,
            "amend": p.state == "deliberation" and is_member,
            "decide_amendments": p.state == "deliberation" and (author or is_facil),
            "amendment_vote": p.state == "deliberation" and is_facil,
            "amendment_ballot": p.state == "deliberation" and is_member,
            "comment": p.state in ("deliberation", "vote") and is_member,
            "execute": d is not None and d.outcome == "adopted" and is_facil
            and d.execution != "carried_out",
            "evaluate": d is not None and d.execution == "carried_out" and is_member
            and me is not None and s.exec(select(Evaluation).where(
                Evaluation.decision_id == d.id, Evaluation.member_id == me.id)).first() is None,
        }
        return page(request, "proposal.html", me, **matter_context(s, request, me, p, roles),
                    p=view, body=b, can=can, choices=choices,
                    my_vote=my_vote, my_vote_label=dict(choices).get(my_vote or "", ""),
                    state_label=state_labels(_)[p.state], diff=diff_text,
                    decision=decision, outcome_label=outcomes.get(d.outcome, "") if d else "",
                    voting_days=statute.voting_days, authors=authors,
                    comments=comment_tree(view["comments"]), now_iso=now_iso,
                    my_amendment_votes=my_amendment_votes,
                    rule_text=statute_text(_, Statute.from_dict(decision["record"]["statute"]))
                    if decision else "",
                    amendment_states={"open": _("abierta"), "accepted": _("aceptada"),
                                      "rejected": _("rechazada"), "voting": _("en votación"),
                                      "stale": _("aprobada sin efecto: el texto ya cambió")},
                    execution_labels={"in_progress": _("en curso"),
                                      "carried_out": _("ejecutada")})


@router.post("/p/{pid}/deliberation")
async def deliberate(request: Request, pid: int) -> Response:
    response = await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.open_deliberation(s, me, p)))
    if response.status_code == 303:
        me = await member_of(request)
        if me is not None:
            await service.send_up_if_needed(request.app.state.ctx, me, pid)
    return response


@router.post("/p/{pid}/comments")
async def comment(request: Request, pid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.comment(
            s, me, p, d.get("text", ""),
            int(d["parent"]) if d.get("parent", "").isdigit() else None)))


@router.post("/p/{pid}/amendments")
async def amend(request: Request, pid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.amend(s, me, p, d.get("title", ""),
                                                  d.get("text", ""), d.get("reason", ""))))


@router.post("/p/{pid}/amendments/{aid}")
async def decide_amendment(request: Request, pid: int, aid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.decide(s, me, p, aid, d.get("accept") == "1",
                                                   request.app.state.ctx.urls)))


def _days(d: dict[str, str]) -> Any:
    days = d.get("days", "")
    return utcnow() + timedelta(days=int(days)) if days.isdigit() else None


@router.post("/p/{pid}/amendments/{aid}/vote-open")
async def open_amendment_vote(request: Request, pid: int, aid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.open_vote(s, me, p, aid, _days(d))))


@router.post("/p/{pid}/amendments/{aid}/ballot")
async def amendment_ballot(request: Request, pid: int, aid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.cast(s, me, p, aid, d.get("choice", ""),
                                                 d.get("reason", ""))))


@router.post("/p/{pid}/amendments/{aid}/close")
async def close_amendment_vote(request: Request, pid: int, aid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        a = s.get(Amendment, aid)
        if a is None or a.proposal_id != p.id:
            raise Problem(404, "not-found", "no such amendment")
        amendments.close_by(s, me, a, request.app.state.ctx.urls)

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn))


@router.post("/p/{pid}/vote-open")
async def open_vote(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        proposals.open_vote(s, me, p, _days(d), request.app.state.ctx.urls)

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn))


@router.post("/p/{pid}/ballot")
async def ballot(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        version = int(d["version"]) if d.get("version", "").isdigit() else 0
        proposals.cast(s, me, p, version, d.get("choice", ""), d.get("reason", ""))

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn))


@router.post("/p/{pid}/close")
async def close(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        decisions.close_vote_by(s, request.app.state.ctx.urls, me, p)

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn))


def _decision_of(s: Session, pid: int) -> Decision:
    d = s.exec(select(Decision).where(Decision.proposal_id == pid)).first()
    if d is None:
        raise Problem(409, "bad-state", "this proposal has no decision yet")
    return d


@router.post("/p/{pid}/execution")
async def execution(request: Request, pid: int) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: decisions.set_execution(
            s, me, _decision_of(s, pid), d.get("state", ""), d.get("notes", ""))))


@router.post("/p/{pid}/evaluation")
async def evaluation(request: Request, pid: int) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        score = int(d["score"]) if d.get("score", "").isdigit() else 0
        decisions.evaluate(s, me, _decision_of(s, pid), score, d.get("comment", ""))

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn))


