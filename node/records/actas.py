"""The acta (minute) of an assembly and of a decision: what was decided, under which
rule, with what counts and by whom (as far as the statute lets it be known), and the
proof behind it: for a local decision its tally record and the audit entry that
sealed it; for a federated one, what `verification.verify_decision` finds in the
signed decision (mandates and votes checked one by one).

Who may read an acta is who may read the body; the roll call of an open ballot
(who voted what) is for the body's members only, and a secret ballot has none:
only its counts were ever kept."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from node.activitypub.urls import Urls
from node.errors import not_found
from node.federations import matters, names, outcomes, verification
from node.governance.authz import require_read
from node.governance.members import roles_in
from node.governance.proposals import version
from node.governance.statute import Statute
from node.models import AuditEntry, Decision, LocalActor, Meeting, Member, Proposal
from node.models.base import aware, id_in_range
from node.storage.audit import entry_holds


@dataclass
class Sealed:
    """The audit entry that recorded something, and whether it still holds."""

    seq: int
    at: datetime
    by: str  # who acted, as a name
    hash: str
    holds: bool


@dataclass
class Ballot:
    name: str
    choice: str
    reason: str = ""
    weight: int = 1
    spokesperson: str = ""


@dataclass
class DecisionActa:
    decision: Decision
    proposal: Proposal
    body: LocalActor
    title: str
    text: str
    record: dict[str, Any]
    statute: Statute
    secret: bool
    # Who voted what: the members' ballots of an open vote (None when the viewer may
    # not see them, or none were kept), or the member bodies' mandated votes.
    roll: list[Ballot] | None
    sealed: Sealed | None
    meeting: Meeting | None = None
    # The federation's signed decision on this matter, when there is one here.
    federated: dict[str, Any] | None = None
    # What it decided, on which version, and our row with that version's text.
    final: outcomes.Final | None = None

    @property
    def position(self) -> bool:
        """The body decided its position on a federation's matter (its mandate), not
        the matter itself."""
        return bool(self.proposal.answers_to)


@dataclass
class MeetingActa:
    meeting: Meeting
    body: LocalActor
    recorded_by: str
    decisions: list[DecisionActa]
    sealed: Sealed | None


@dataclass
class FederatedCheck:
    """What recomputing a federation's decision from its signed parts found."""

    holds: bool
    mandates: int
    mandates_valid: int
    votes: int
    votes_counted: int
    counted: dict[str, int] = field(default_factory=dict)
    outcome: str = ""
    stated_outcome: str = ""
    problems: list[str] = field(default_factory=list)  # in English, with the details
    findings: list[verification.Finding] = field(default_factory=list)  # for the page


def _actor_name(session: Session, urls: Urls, actor: str) -> str:
    kind, _, rest = actor.partition(":")
    if kind == "member" and rest.isdigit():
        m = session.get(Member, int(rest))
        return m.display_name if m else actor
    if kind == "body":
        b = session.exec(select(LocalActor).where(LocalActor.handle == rest)).first()
        return b.name if b else rest
    if kind == "remote":
        return names.name_of(session, urls, rest)
    return ""  # the node's own processing (a clock closing a vote)


def _sealed(session: Session, urls: Urls, action: str, subject: str, key: str,
            value: int | None) -> Sealed | None:
    for entry in session.exec(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.subject == subject)
            .order_by(col(AuditEntry.seq))).all():
        try:
            data = json.loads(entry.data)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get(key) == value:
            return Sealed(entry.seq, aware(entry.at), _actor_name(session, urls, entry.actor),
                          entry.hash, entry_holds(session, entry))
    return None


def may_see_roll(session: Session, viewer: Member | None, body: LocalActor) -> bool:
    """Who voted what in an open ballot is for the body's members."""
    return "member" in roles_in(session, viewer, body)


def _roll(session: Session, urls: Urls, d: Decision, record: dict[str, Any], secret: bool,
          members_view: bool) -> list[Ballot] | None:
    ballots = record.get("ballots")
    if secret or not isinstance(ballots, list):
        return None
    if d.method == "mandates":
        # Member bodies' votes are public acts of those bodies, signed by them.
        uris = [str(b.get("member", "")) for b in ballots] + \
            [str(b.get("spokesperson", "")) for b in ballots]
        # A remote spokesperson is known here only by the name their body signed into
        # the mandate; without it the acta showed "jose@host:port".
        named = names.names(session, urls, uris, names.spokesperson_names(
            session, [str(b.get("mandate", "")) for b in ballots]))
        return [Ballot(named.get(str(b.get("member", "")), ""), str(b.get("choice", "")),
                       weight=int(b.get("weight", 1)),
                       spokesperson=named.get(str(b.get("spokesperson", "")), ""))
                for b in ballots]
    if not members_view:
        return None
    ids = [int(b["member"]) for b in ballots if isinstance(b.get("member"), int)]
    people = {m.id: m.display_name for m in session.exec(
        select(Member).where(col(Member.id).in_(ids))).all()} if ids else {}
    return sorted((Ballot(people.get(b.get("member"), "?"), str(b.get("choice", "")),
                          str(b.get("reason") or "")) for b in ballots),
                  key=lambda x: x.name.lower())


def _decision_acta(session: Session, urls: Urls, viewer: Member | None, d: Decision,
                   p: Proposal, body: LocalActor, members_view: bool) -> DecisionActa:
    record: dict[str, Any] = json.loads(d.record)
    statute = Statute.from_dict(record.get("statute") or {})
    v = version(session, p, d.version)
    meeting = session.get(Meeting, d.meeting_id) if d.meeting_id else None
    federated = matters.kept(session, p.final_decision) if p.final_decision else None
    return DecisionActa(
        decision=d, proposal=p, body=body, title=v.title, text=v.text, record=record,
        statute=statute, secret=statute.secret_ballot,
        roll=_roll(session, urls, d, record, statute.secret_ballot, members_view),
        sealed=_sealed(session, urls, "decision.recorded", f"proposal:{p.id}", "decision",
                       d.id),
        meeting=meeting, federated=federated, final=outcomes.final(session, p))


def of_proposal(session: Session, urls: Urls, viewer: Member | None, pid: int
                ) -> DecisionActa:
    """The acta of proposal `pid`'s decision, for someone who may read its body."""
    p = session.get(Proposal, pid) if id_in_range(pid) else None
    body = session.get(LocalActor, p.body_id) if p else None
    if p is None or body is None:
        raise not_found("proposal")
    require_read(session, viewer, body)
    d = session.exec(select(Decision).where(Decision.proposal_id == p.id)).first()
    if d is None:
        raise not_found("decision")
    return _decision_acta(session, urls, viewer, d, p, body,
                          may_see_roll(session, viewer, body))


def of_meeting(session: Session, urls: Urls, viewer: Member | None, body: LocalActor,
               mid: int) -> MeetingActa:
    """The acta of assembly `mid` of `body` and of every decision it took."""
    require_read(session, viewer, body)
    m = session.get(Meeting, mid) if id_in_range(mid) else None
    if m is None or m.body_id != body.id:
        raise not_found("assembly")
    members_view = may_see_roll(session, viewer, body)
    made = []
    for d in session.exec(select(Decision).where(Decision.meeting_id == m.id)
                          .order_by(col(Decision.id))).all():
        p = session.get(Proposal, d.proposal_id)
        if p is not None:
            made.append(_decision_acta(session, urls, viewer, d, p, body, members_view))
    who = session.get(Member, m.recorded_by)
    return MeetingActa(meeting=m, body=body, recorded_by=who.display_name if who else "",
                       decisions=made,
                       sealed=_sealed(session, urls, "meeting.recorded", f"body:{body.handle}",
                                      "meeting", m.id))


async def check_federated(note: dict[str, Any], keys: verification.KeyLookup
                          ) -> FederatedCheck:
    """Recompute the federation's decision from the mandates and votes it carries."""
    report = await verification.verify_decision(note, keys)
    mandates = [m for m in note.get("mandates", []) if isinstance(m, dict)]
    votes = [v for v in note.get("mandatedVotes", []) if isinstance(v, dict)]
    bad_mandates = sum(1 for f in report.findings if f.code.startswith("mandate-"))
    return FederatedCheck(
        holds=report.holds, mandates=len(mandates),
        mandates_valid=max(len(mandates) - bad_mandates, 0), votes=len(votes),
        votes_counted=len(report.lines), counted=dict(report.counted),
        outcome=report.outcome, stated_outcome=str(note.get("outcome", "")),
        problems=report.problems, findings=list(report.findings))


def federation_name(session: Session, urls: Urls, note: dict[str, Any]) -> str:
    return names.name_of(session, urls, str(note.get("attributedTo", "")))


def member_body_names(session: Session, urls: Urls, note: dict[str, Any]) -> dict[str, str]:
    """The federation's member bodies by name, for what a check finds about them."""
    bodies = [str(m.get("id", "")) for m in note.get("memberBodies", []) if isinstance(m, dict)]
    bodies += [str(x.get("attributedTo", "")) for key in ("mandates", "mandatedVotes")
               for x in note.get(key, []) if isinstance(x, dict)]
    return names.names(session, urls, bodies)
