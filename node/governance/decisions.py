"""Closing votes, recording in-person assemblies, and the decision record that both
leave behind; publishing the decisions of public bodies to their followers."""

from __future__ import annotations

import html
import json
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import AS_PUBLIC
from node.errors import conflict, invalid, not_found
from node.events import kinds
from node.governance import assemblies, electorates, polls
from node.governance.authz import require_facilitator
from node.governance.bodies import electorate
from node.governance.proposal_actions import (
    EXECUTION,
    PROPOSAL,
    close_refusal,
    decided_above,
    require,
)
from node.governance.proposals import body_of, version, votes_of
from node.governance.statute import statute_of_vote
from node.governance.tally import (
    Ballot,
    Choice,
    Counts,
    Electorate,
    Result,
    count_ballots,
    tally,
)
from node.models import Decision, Evaluation, LocalActor, Meeting, Member, Proposal
from node.models.base import aware
from node.outbox.publish import new_uid, publish
from node.tx import Tx

OUTCOME_ES = {"adopted": "aprobada", "rejected": "rechazada", "no_quorum": "sin quórum"}


def result_record(result: Result, statute: dict[str, Any], version_number: int,
                  eligible: list[int] | None, ballots: list[dict[str, Any]] | None
                  ) -> dict[str, Any]:
    """What a decision keeps of its count: the same shape online, in assembly and by
    mandates (those add their own keys)."""
    c = result.counts
    return {
        "version": version_number,
        "statute": statute,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "quorum_met": result.quorum_met,
        "counts": {"for": c.yes, "against": c.no, "abstain": c.abstain, "block": c.block,
                   "participants": c.participants, "families": c.families},
        "electorate": {"members": result.electorate.members,
                       "families": result.electorate.families},
        "eligible": eligible,
        "ballots": ballots,
    }


def _record(result: Result, statute: dict[str, Any], version_number: int,
            eligible: list[Member] | None, ballots: list[dict[str, Any]] | None) -> str:
    return json.dumps(result_record(
        result, statute, version_number,
        [m.id or 0 for m in eligible] if eligible is not None else None, ballots),
        ensure_ascii=False)


def _person(tx: Tx) -> Member | None:
    return tx.who if isinstance(tx.who, Member) else None


def close_vote_by(tx: Tx, proposal: Proposal) -> Decision:
    """A coordinator closes a vote whose deadline has passed (the clock does it too)."""
    require(tx.session, _person(tx), proposal, "close", tx.now())
    return close_vote(tx.acting_as(None), proposal)


def close_vote(tx: Tx, proposal: Proposal) -> Decision:
    """Close a vote whose deadline has passed; apply the statute exactly. Acted by a
    member, as that coordinator (see `close_vote_by`); otherwise as the node's clock."""
    session, member = tx.session, _person(tx)
    if member is not None:
        require(session, member, proposal, "close", tx.now())
    elif (refused := close_refusal(proposal, tx.now())) is not None:
        raise refused
    # Claimed first, in the database: a concurrent close of the same vote gets a 409.
    PROPOSAL.move(session, proposal, "close")
    if proposal.electorate == "bodies":
        return electorates.member_bodies().close(tx, proposal)
    body = body_of(session, proposal)
    # The rules the vote opened under, whatever the statute says now.
    statute = statute_of_vote(proposal, body)
    voters, eligible = electorate(session, body)
    eligible_ids = {m.id for m in eligible}
    families = {m.id: m.family for m in eligible}
    # Only current members' ballots on the version being decided count.
    cast = votes_of(session, proposal)
    votes = [v for v in cast
             if v.member_id in eligible_ids and v.version == proposal.current_version]
    counts = count_ballots(Ballot(v.member_id, Choice(v.choice), families.get(v.member_id) or None)
                           for v in votes)
    result = tally(statute, counts, voters)
    ballots = None if statute.secret_ballot else [
        {"member": v.member_id, "choice": v.choice, "reason": v.reason} for v in votes]
    decision = Decision(proposal_id=proposal.id or 0, body_id=body.id or 0,
                        version=proposal.current_version, outcome=result.outcome.value,
                        decided_at=tx.now(),
                        record=_record(result, statute.to_dict(), proposal.current_version,
                                       eligible, ballots))
    session.add_all([decision, proposal])
    if statute.secret_ballot:
        # Counted: from now on the counts are the record, and no row says who chose what.
        for v in cast:
            v.choice, v.reason = "secret", ""
            session.add(v)
    session.flush()
    tx.acting_as(None).audit("decision.recorded", f"proposal:{proposal.id}",
                             {"decision": decision.id, "outcome": decision.outcome,
                              "method": "online"})
    kinds.decision_recorded(tx, body, proposal, decision)
    tx.wake("economy")  # the decision may answer a joint plan: answered at the next pass
    _publish(tx, body, proposal, decision, result)
    return decision


def close_due(tx: Tx) -> list[int]:
    """Close every vote whose deadline has passed, even if the node was down then
    (as the node's clock, whoever asks)."""
    due = tx.session.exec(select(Proposal).where(
        Proposal.state == "vote", col(Proposal.closes_at) <= tx.now())).all()
    return [close_vote(tx.acting_as(None), p).id or 0 for p in due]


def record_meeting(tx: Tx, body: LocalActor,
                   held_at: datetime, place: str, attendance: int, families: int,
                   agenda: str, minutes: str,
                   decisions: list[dict[str, Any]],
                   assembly_id: int | None = None) -> tuple[Meeting, list[Decision]]:
    """An assembly that met on `held_at`, with `attendance` people and `families`
    families present, and what it decided. Its decisions are dated on that day, and
    their participation is counted against the people present: the body's accounts
    are often far fewer than the people who come to an assembly. With `assembly_id`,
    the assembly called ahead that this was: its Event then links to this record."""
    session, member = tx.session, tx.member
    require_facilitator(session, member, body)
    if attendance < 0 or families < 0 or families > attendance:
        raise invalid("bad-attendance", "attendance and families must be ≥ 0, and families ≤ "
                                        "attendance")
    held_at = aware(held_at)
    if held_at > tx.now() + timedelta(hours=1):
        raise invalid("future-assembly", "an assembly is recorded once it has met")
    meeting = Meeting(body_id=body.id or 0, held_at=held_at, place=place, attendance=attendance,
                      families=families, agenda=agenda, minutes=minutes,
                      recorded_by=member.id or 0)
    session.add(meeting)
    session.flush()
    accounts, _ = electorate(session, body)
    # Those who could vote there: the people present, or the body's registered members
    # if more (then the quorum also counts those who stayed away); families likewise.
    voters = Electorate(members=max(accounts.members, attendance),
                        families=max(accounts.families, families))
    made = []
    for item in decisions:
        proposal = session.get(Proposal, int(item.get("proposal_id", 0)))
        if proposal is None or proposal.body_id != body.id:
            raise not_found("proposal of this body")
        if not PROPOSAL.may("decide_in_assembly", proposal.state):
            raise conflict("bad-state", f"proposal {proposal.id} is not open for decision")
        if decided_above(proposal):
            raise conflict("matter-decided", "the federation has already decided this "
                                             "matter; the body's position no longer changes")
        if proposal.electorate == "bodies":
            raise conflict("votes-by-mandate", f"proposal {proposal.id} is decided by the "
                                               "member bodies' mandated votes")
        # A matter already put to the vote keeps that vote's rules in the assembly too;
        # one still in deliberation is decided under the statute of today.
        statute = statute_of_vote(proposal, body)
        counts = Counts(yes=int(item.get("for", 0)), no=int(item.get("against", 0)),
                        abstain=int(item.get("abstain", 0)), block=int(item.get("block", 0)),
                        families=families)
        if min(counts.yes, counts.no, counts.abstain, counts.block) < 0 or \
                counts.participants > attendance:
            raise invalid("bad-counts", "counts must be ≥ 0 and add up to at most the attendance")
        result = tally(statute, counts, voters)
        record = result_record(result, statute.to_dict(), proposal.current_version, None, None)
        record["assembly"] = {"meeting": meeting.id, "held_at": held_at.isoformat(),
                              "present": attendance, "families_present": families}
        decision = Decision(proposal_id=proposal.id or 0, body_id=body.id or 0,
                            version=proposal.current_version, outcome=result.outcome.value,
                            method="assembly", meeting_id=meeting.id, decided_at=held_at,
                            record=json.dumps(record, ensure_ascii=False))
        PROPOSAL.move(session, proposal, "decide_in_assembly")
        session.add(decision)
        session.flush()
        tx.audit("decision.recorded", f"proposal:{proposal.id}",
                 {"decision": decision.id, "method": "assembly", "meeting": meeting.id,
                  "outcome": decision.outcome})
        kinds.decision_recorded(tx, body, proposal, decision)
        tx.wake("economy")  # as above: a joint plan may wait on it
        _publish(tx, body, proposal, decision, result)
        made.append(decision)
    tx.audit("meeting.recorded", f"body:{body.handle}",
             {"meeting": meeting.id, "attendance": attendance, "families": families})
    if assembly_id is not None:
        assemblies.held(tx, body, assembly_id, meeting)
    return meeting, made


def participation_text(decision: Decision, result: Result) -> str:
    """The participation line followers read: against the people present for an
    assembly, against the members for an online vote."""
    c = result.counts
    assembly = json.loads(decision.record).get("assembly") if decision.record else None
    if assembly:
        line = f"votaron {c.participants} de {assembly['present']} presentes"
        if json.loads(decision.record)["statute"].get("quorum_basis") == "families":
            line += (f" · {assembly['families_present']} de {result.electorate.families} "
                     "familias")
        return line
    noun = "integrante" if result.electorate.members == 1 else "integrantes"
    return f"votaron {c.participants} de {result.electorate.members} {noun}"


def _publish(tx: Tx, body: LocalActor, proposal: Proposal, decision: Decision,
             result: Result) -> None:
    """A public body's decision goes to its outbox: followers (Mastodon too) see it."""
    if not body.public:
        return
    session, urls = tx.session, tx.urls
    v = version(session, proposal, decision.version)
    polls.close(tx, body, proposal, v.title, result.counts)
    c = result.counts
    outcome = OUTCOME_ES[result.outcome.value]
    content = (f"<p><strong>{html.escape(v.title)}</strong>: {outcome}.</p>"
               f"<p>A favor {c.yes} · en contra {c.no} · abstenciones {c.abstain}"
               + (f" · bloqueos {c.block}" if c.block else "")
               + f" · {participation_text(decision, result)}</p>")
    actor = urls.actor(body.handle)
    note_id = urls.obj(new_uid())
    audience = {"to": [AS_PUBLIC], "cc": [urls.followers(body.handle)]}
    note: dict[str, Any] = {
        "id": note_id, "type": "Note", "attributedTo": actor, "name": v.title,
        "url": f"{urls.base}/p/{proposal.id}", "content": content, "contentMap": {"es": content},
        "published": tx.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        # The day it was decided (an assembly's day), beside the day it was published.
        "endTime": aware(decision.decided_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "outcome": result.outcome.value, "proposalVersion": decision.version,
        "votesFor": c.yes, "votesAgainst": c.no, "abstentions": c.abstain, "blocks": c.block,
        **audience,
    }
    activity: dict[str, Any] = {"@context": [AS_CONTEXT, f"{urls.base}/ns/comuna/v1"],
                "id": urls.activity(new_uid()), "type": "Create", "actor": actor,
                "object": note, **audience}
    publish(tx, body, activity)
    decision.activity_id = activity["id"]
    session.add(decision)


def set_execution(tx: Tx, decision: Decision, state: str, notes: str) -> None:
    session = tx.session
    proposal = session.get(Proposal, decision.proposal_id)
    assert proposal is not None
    require(session, tx.member, proposal, "execute", tx.now())
    steps = {"in_progress": "progress", "carried_out": "carry_out"}
    if state not in steps:
        raise invalid("bad-execution-state", "state is in_progress or carried_out")
    EXECUTION.move(session, decision, steps[state], execution_notes=notes)
    if state == "carried_out" and PROPOSAL.may("carry_out", proposal.state):
        PROPOSAL.move(session, proposal, "carry_out")
    tx.audit("decision.execution", f"decision:{decision.id}", {"state": state})


def evaluate(tx: Tx, decision: Decision, score: int, comment: str) -> Evaluation:
    session, member = tx.session, tx.member
    proposal = session.get(Proposal, decision.proposal_id)
    assert proposal is not None
    require(session, member, proposal, "evaluate", tx.now())
    if not (1 <= score <= 5):
        raise invalid("bad-score", "the score goes from 1 to 5")
    ev = Evaluation(decision_id=decision.id or 0, member_id=member.id or 0, score=score,
                    comment=comment)
    session.add(ev)
    if PROPOSAL.may("evaluate", proposal.state):
        PROPOSAL.move(session, proposal, "evaluate")
    tx.audit("decision.evaluated", f"decision:{decision.id}", {"score": score})
    session.flush()
    return ev


def participation(session: Session, body: LocalActor) -> list[dict[str, Any]]:
    """For each decision of the body: how many took part, of how many."""
    rows = session.exec(select(Decision).where(Decision.body_id == body.id)
                        .order_by(col(Decision.decided_at))).all()
    out = []
    for d in rows:
        rec = json.loads(d.record)
        out.append({"decision": d.id, "proposal": d.proposal_id, "method": d.method,
                    "decided_at": aware(d.decided_at).isoformat(),
                    "participants": rec["counts"]["participants"],
                    "electorate": rec["electorate"]["members"]})
    return out
