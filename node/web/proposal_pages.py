"""A proposal's page and its forms: deliberation, comments in threads, amendments
(decided by the author or put to a vote), the vote, closing, execution and
evaluation. Every form carries a CSRF token; the rules live in node.governance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlmodel import Session, col, select
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.views import decision_view, proposal_view
from node.context import NodeContext
from node.errors import Problem, invalid
from node.federations import escalation
from node.governance import amendments, bodies, decisions, proposals
from node.governance.authz import require_read
from node.governance.members import roles_in
from node.governance.proposal_actions import stage
from node.governance.statute import Rule, Statute, statute_of_vote
from node.models import (
    Amendment,
    AmendmentVote,
    Decision,
    Member,
    Proposal,
    Vote,
)
from node.models.base import aware
from node.tx import Tx
from node.web.actions import (
    Action,
    Done,
    member_of,
    open_session,
    outcome_labels,
    position_words,
    proposal_action,
    refusal,
    run_action,
    state_labels,
    statute_text,
)
from node.web.i18n import translator
from node.web.matter_pages import matter_context
from node.web.numbers import whole
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


def _labels(_: Any) -> dict[str, dict[str, str]]:
    return {
        "states": {**state_labels(_), "withdrawn": _("Retirada")},
        "amendment_states": {"open": _("abierta"), "accepted": _("aceptada"),
                             "rejected": _("rechazada"), "voting": _("en votación"),
                             "counting": _("en recuento"),
                             "stale": _("aprobada sin efecto: el texto ya cambió")},
        "execution": {"decided": _("por ejecutar"), "in_progress": _("en curso"),
                      "carried_out": _("ejecutada")},
        "methods": {"online": _("votación en línea"), "assembly": _("asamblea"),
                    "mandates": _("votos por mandato")},
    }


@router.get("/p/{pid}")
def proposal_page(request: Request, pid: RowId, diff: str = "") -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        try:
            p = proposals.get(s, pid)
            b = proposals.body_of(s, p)
            require_read(s, me, b)
        except Problem as exc:
            return refusal(request, me, exc, "/")
        _ = translator(language(request, me))
        # What this person may do now: the domain's answer, the same the API gives.
        view = proposal_view(s, p, request.app.state.ctx.clock.now(), full=True, member=me)
        actions = set(view["actions"])
        roles = roles_in(s, me, b)
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
        decision = decision_view(d, s) if d else None
        my_amendment_votes: dict[int, str] = {}
        if me is not None:
            my_amendment_votes = {v.amendment_id: v.choice for v in s.exec(
                select(AmendmentVote).where(AmendmentVote.member_id == me.id, col(
                    AmendmentVote.amendment_id).in_([a["id"] for a in view["amendments"]])))}
        ids = {c["author_id"] for c in view["comments"]} | \
            {a["author_id"] for a in view["amendments"]} | \
            ({p.author_id} if p.author_id else set())
        authors = {m.id: m.display_name for m in s.exec(
            select(Member).where(col(Member.id).in_(ids))).all()} if ids else {}
        now = request.app.state.ctx.clock.now()
        vote_due = p.closes_at is not None and aware(p.closes_at) <= now
        due_amendments = {a["id"] for a in view["amendments"] if a["state"] == "voting"
                          and a["closes_at"] and aware(datetime.fromisoformat(
                              a["closes_at"])) <= now}
        labels = _labels(_)
        state_label = labels["states"].get(p.state, p.state)
        outcome_label = outcome_labels(_).get(d.outcome, "") if d else ""
        decision_heading = _("Decisión")
        if p.answers_to:
            # A member body's decision is its position at the federation, not what is
            # decided: that comes from the federation (the matter's section says it).
            where = stage(p)
            if where == "awaiting_federation":
                state_label = _("Posición decidida · esperando a la federación")
            elif where == "decided" and p.state != "decided":
                state_label = _("Decidida por la federación")
            decision_heading = _("Posición de %(body)s") % {"body": b.name}
            outcome_label = position_words(_).get(d.outcome, "") if d else ""
        return page(request, "proposal.html", me, **matter_context(s, request, me, p, roles),
                    p=view, body=b, actions=actions, choices=choices,
                    my_vote=my_vote, my_vote_label=dict(choices).get(my_vote or "", ""),
                    state_label=state_label, diff=diff_text,
                    decision_heading=decision_heading,
                    vote_due=vote_due, due_amendments=due_amendments,
                    decision=decision,
                    outcome_label=outcome_label,
                    method_label=labels["methods"].get(d.method, "") if d else "",
                    voting_days=bodies.statute_of(b).voting_days, authors=authors,
                    comments=comment_tree(view["comments"]),
                    my_amendment_votes=my_amendment_votes,
                    rule_text=statute_text(_, Statute.from_dict(decision["record"]["statute"]))
                    if decision else "",
                    amendment_states=labels["amendment_states"],
                    execution_labels=labels["execution"])


def _tx(request: Request, s: Session, me: Member) -> Tx:
    """The unit of work of a form: the page's session, acted by the logged-in member."""
    ctx: NodeContext = request.app.state.ctx
    return ctx.tx(s, me)


@router.post("/p/{pid}/edit")
async def edit(request: Request, pid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.edit_draft(_tx(request, s, me), p,
                                                      d.get("title", ""),
                                                      d.get("text", ""))),
        done="Borrador guardado.")


@router.post("/p/{pid}/withdraw")
async def withdraw(request: Request, pid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.withdraw(_tx(request, s, me), p)),
        done="Propuesta retirada: queda registrada, sin seguir adelante.")


@router.post("/p/{pid}/deliberation")
async def deliberate(request: Request, pid: RowId) -> Response:
    response = await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.open_deliberation(_tx(request, s, me), p)),
        done="La deliberación quedó abierta.")
    if response.status_code == 303:
        me = await member_of(request)
        if me is not None:
            await escalation.send_up_if_needed(request.app.state.ctx, me, pid)
    return response


@router.post("/p/{pid}/comments")
async def comment(request: Request, pid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: proposals.comment(
            _tx(request, s, me), p, d.get("text", ""),
            whole(d.get("parent", "")))),
        done="Su comentario quedó publicado.")


@router.post("/p/{pid}/amendments")
async def amend(request: Request, pid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.amend(_tx(request, s, me), p, d.get("title", ""),
                                                  d.get("text", ""), d.get("reason", ""))),
        done="Su enmienda quedó propuesta.")


@router.post("/p/{pid}/amendments/{aid}")
async def decide_amendment(request: Request, pid: RowId, aid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> Done:
        accept = d.get("accept") == "1"
        amendments.decide(_tx(request, s, me), p, aid, accept)
        return (f"/p/{pid}", "Enmienda aceptada: es la nueva versión del texto." if accept
                else "Enmienda rechazada.")

    return await run_action(request, f"/p/{pid}", _back(pid, fn))


def _back(pid: int, fn: Callable[[Session, Member, Proposal, dict[str, str]], Done]
          ) -> Action:
    """Like proposal_action, for an action that chooses its own confirmation."""
    def act(s: Session, me: Member, data: dict[str, str]) -> Done:
        return fn(s, me, proposals.get(s, pid), data)

    return act


MAX_VOTE_DAYS = 3650


def _days(d: dict[str, str], now: datetime) -> Any:
    days = whole(d.get("days", ""))
    if days is not None and days > MAX_VOTE_DAYS:  # a date past year 9999 cannot be made
        raise invalid("bad-deadline", "a vote lasts at most 3650 days")
    return now + timedelta(days=days) if days is not None else None


@router.post("/p/{pid}/amendments/{aid}/vote-open")
async def open_amendment_vote(request: Request, pid: RowId, aid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.open_vote(
            _tx(request, s, me), p, aid, _days(d, request.app.state.ctx.clock.now()))),
        done="La enmienda quedó sometida a votación.")


@router.post("/p/{pid}/amendments/{aid}/ballot")
async def amendment_ballot(request: Request, pid: RowId, aid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: amendments.cast(_tx(request, s, me), p, aid,
                                                 d.get("choice", ""), d.get("reason", ""))),
        done="Su voto sobre la enmienda quedó registrado.")


@router.post("/p/{pid}/amendments/{aid}/close")
async def close_amendment_vote(request: Request, pid: RowId, aid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        a = s.get(Amendment, aid)
        if a is None or a.proposal_id != p.id:
            raise Problem(404, "not-found", "no such amendment")
        amendments.close_by(_tx(request, s, me), a)

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn),
                            done="La votación de la enmienda quedó cerrada y contada.")


@router.post("/p/{pid}/vote-open")
async def open_vote(request: Request, pid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        proposals.open_vote(_tx(request, s, me), p,
                            _days(d, request.app.state.ctx.clock.now()))

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn),
                            done="La votación quedó abierta.")


@router.post("/p/{pid}/ballot")
async def ballot(request: Request, pid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        version = whole(d.get("version", "")) or 0
        proposals.cast(_tx(request, s, me), p, version, d.get("choice", ""),
                       d.get("reason", ""))

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn),
                            done="Su voto quedó registrado.")


@router.post("/p/{pid}/close")
async def close(request: Request, pid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        decisions.close_vote_by(_tx(request, s, me), p)

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn),
                            done="La votación quedó cerrada y contada.")


def _decision_of(s: Session, pid: int) -> Decision:
    d = s.exec(select(Decision).where(Decision.proposal_id == pid)).first()
    if d is None:
        raise Problem(409, "bad-state", "this proposal has no decision yet")
    return d


@router.post("/p/{pid}/execution")
async def execution(request: Request, pid: RowId) -> Response:
    return await run_action(request, f"/p/{pid}", proposal_action(
        pid, lambda s, me, p, d: decisions.set_execution(
            _tx(request, s, me), _decision_of(s, pid), d.get("state", ""), d.get("notes", ""))),
        done="La ejecución quedó registrada.")


@router.post("/p/{pid}/evaluation")
async def evaluation(request: Request, pid: RowId) -> Response:
    def fn(s: Session, me: Member, p: Proposal, d: dict[str, str]) -> None:
        score = whole(d.get("score", "")) or 0
        decisions.evaluate(_tx(request, s, me), _decision_of(s, pid), score,
                           d.get("comment", ""))

    return await run_action(request, f"/p/{pid}", proposal_action(pid, fn),
                            done="Su evaluación quedó guardada.")


