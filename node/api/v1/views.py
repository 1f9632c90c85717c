"""How records look in the JSON API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from node.governance.bodies import member_count, statute_of
from node.governance.proposal_actions import Seen, amendment_actions, available_actions
from node.models import (
    Amendment,
    Comment,
    Decision,
    Evaluation,
    FederatedAmendment,
    LocalActor,
    Member,
    Proposal,
    ProposalVersion,
)


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def body_view(session: Session, body: LocalActor) -> dict[str, Any]:
    return {"handle": body.handle, "name": body.name, "kind": body.kind, "level": body.level,
            "public": body.public, "parent_id": body.parent_id,
            "statute": statute_of(body).to_dict(), "members": member_count(session, body)}


def proposal_view(session: Session, p: Proposal, now: datetime, full: bool = False,
                  member: Member | None = None) -> dict[str, Any]:
    """A proposal as the API shows it to `member`, with `actions`: what they may do
    with it at `now`, the node's clock (none for anonymous readers)."""
    v = session.exec(select(ProposalVersion).where(
        ProposalVersion.proposal_id == p.id,
        ProposalVersion.number == p.current_version)).one()
    out: dict[str, Any] = {
        "id": p.id, "body_id": p.body_id, "author_id": p.author_id, "state": p.state,
        "title": v.title, "current_version": p.current_version,
        "affects": json.loads(p.affects), "vote_opened_at": iso(p.vote_opened_at),
        "closes_at": iso(p.closes_at), "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "federated": None if not (p.matter or p.escalation) else {
            "matter": p.matter or None, "electorate": p.electorate,
            "answers_to": p.answers_to or None,
            "escalation": p.escalation or None, "escalated_to": p.escalated_to or None,
            "escalation_note": p.escalation_note or None,
            "final_outcome": p.final_outcome or None, "final_decision": p.final_decision or None,
            "federation_vote_closes_at": iso(p.federation_vote_closes_at)},
        "actions": available_actions(session, member, p, now),
    }
    if full:
        out["text"] = v.text
        out["versions"] = [
            {"number": x.number, "title": x.title, "origin": x.origin,
             "author_id": x.author_id, "created_at": iso(x.created_at)}
            for x in session.exec(select(ProposalVersion).where(
                ProposalVersion.proposal_id == p.id).order_by(col(ProposalVersion.number)))]
        out["comments"] = [
            {"id": c.id, "author_id": c.author_id, "parent_id": c.parent_id, "text": c.text,
             "created_at": iso(c.created_at)}
            for c in session.exec(select(Comment).where(Comment.proposal_id == p.id)
                                  .order_by(col(Comment.id)))]
        seen = Seen(session, member, p, now)
        out["amendments"] = [
            {"id": a.id, "author_id": a.author_id, "against_version": a.against_version,
             "title": a.title, "text": a.text, "reason": a.reason, "state": a.state,
             "resulting_version": a.resulting_version, "closes_at": iso(a.closes_at),
             "vote": json.loads(a.record) if a.record else None,
             "actions": amendment_actions(session, member, p, a, now, seen)}
            for a in session.exec(select(Amendment).where(Amendment.proposal_id == p.id)
                                  .order_by(col(Amendment.id)))]
        out["federation_amendments"] = [] if not (p.matter and p.answers_to) else [
            {"uri": a.uri, "title": a.title, "text": a.text,
             "against_version": a.against_version, "state": a.state,
             "updated_at": iso(a.updated_at)}
            for a in session.exec(select(FederatedAmendment).where(
                FederatedAmendment.body_id == p.body_id, FederatedAmendment.matter == p.matter,
                FederatedAmendment.federation == p.answers_to)
                .order_by(col(FederatedAmendment.id)))]
        decision = session.exec(select(Decision).where(Decision.proposal_id == p.id)).first()
        out["decision_id"] = decision.id if decision else None
    return out


def decision_view(d: Decision, session: Session | None = None) -> dict[str, Any]:
    """A decision; with a session, also the evaluations members gave it (who, score,
    comment), oldest first."""
    evaluations = [] if session is None else [
        {"member_id": ev.member_id, "name": name, "score": ev.score, "comment": ev.comment,
         "created_at": iso(ev.created_at)}
        for ev, name in session.exec(
            select(Evaluation, Member.display_name)
            .join(Member, col(Member.id) == col(Evaluation.member_id))
            .where(Evaluation.decision_id == d.id).order_by(col(Evaluation.id))).all()]
    return {"id": d.id, "proposal_id": d.proposal_id, "body_id": d.body_id,
            "version": d.version, "outcome": d.outcome, "method": d.method,
            "meeting_id": d.meeting_id, "execution": d.execution,
            "execution_notes": d.execution_notes, "decided_at": iso(d.decided_at),
            "activity_id": d.activity_id or None, "record": json.loads(d.record),
            "evaluations": evaluations}
