"""Assemblies called ahead: a body's coordination says when and where its next
assembly meets and which open matters it will take up. People see it on the body's
page and in their phone's calendar (the body's iCalendar feed), and followers on
other servers as an ActivityStreams `Event` (node/governance/assembly_event.py).

Its life is a graph: scheduled → held (when the meeting it was is recorded, which
links the two) or cancelled; `change` is a self-loop on scheduled, so a change and
a cancellation racing each other cannot both win. Every change people should see
in their calendars bumps `sequence` (RFC 5545 SEQUENCE) and is published as an
`Update` of the Event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlmodel import Session, col, select

from node.errors import conflict, invalid, not_found
from node.governance import assembly_event
from node.governance.authz import require_facilitator
from node.governance.members import roles_in
from node.governance.proposal_actions import position_open
from node.governance.proposals import version
from node.lifecycle import Graph
from node.models import Assembly, LocalActor, Meeting, Member, Proposal
from node.models.base import MAX_ID, aware
from node.tx import Tx


class AssemblyState(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"


S = AssemblyState
ASSEMBLY = (Graph("assembly", Assembly, S)
            .step("change", [S.scheduled], S.scheduled)
            .step("hold", [S.scheduled], S.held)
            .step("cancel", [S.scheduled], S.cancelled))

# Matters an assembly can take up: those still being discussed or voted on.
OPEN_STATES = ("deliberation", "vote")
# An assembly is one sitting, not a congress: past this its end is a typing mistake.
LONGEST = timedelta(hours=24)
# A meeting may be recorded from an hour before the assembly's time (clocks differ).
EARLY = timedelta(hours=1)
# Calls further ahead than this are typing mistakes (and keep date arithmetic in range).
AHEAD = timedelta(days=3 * 366)


@dataclass(frozen=True)
class Plan:
    """What the coordination writes when calling (or changing) an assembly."""

    starts_at: datetime
    place: str
    ends_at: datetime | None = None
    address: str = ""
    title: str = ""
    description: str = ""
    agenda: tuple[int, ...] = ()


def agenda_ids(a: Assembly) -> list[int]:
    return [int(i) for i in json.loads(a.agenda or "[]")]


def open_matters(session: Session, body: LocalActor) -> list[Proposal]:
    """The body's proposals an agenda may name."""
    return list(session.exec(select(Proposal).where(
        Proposal.body_id == body.id, col(Proposal.state).in_(OPEN_STATES), position_open())
        .order_by(col(Proposal.id))).all())


def agenda_titles(session: Session, a: Assembly) -> list[tuple[int, str]]:
    out = []
    for pid in agenda_ids(a):
        p = session.get(Proposal, pid)
        if p is not None:
            out.append((pid, version(session, p).title))
    return out


def _in_range(when: datetime, field: str) -> datetime:
    """In UTC, or refused: a year no calendar means (0001, 9999) cannot be moved
    between zones at all."""
    if not 2000 <= when.year <= 2999:
        raise invalid("far-assembly", "an assembly is called at most three years ahead",
                      field=field)
    return aware(when).astimezone(UTC).replace(microsecond=0)


def _checked(session: Session, body: LocalActor, plan: Plan, now: datetime,
             before: Assembly | None) -> Plan:
    place = plan.place.strip()
    if not place:
        raise invalid("missing-place", "say where the assembly meets", field="place")
    starts = _in_range(plan.starts_at, "starts_at")
    moved = before is None or aware(before.starts_at) != starts
    if moved and starts <= now:
        raise invalid("past-assembly", "an assembly is called for a time still to come",
                      field="starts_at")
    if starts > now + AHEAD:
        raise invalid("far-assembly", "an assembly is called at most three years ahead",
                      field="starts_at")
    ends = _in_range(plan.ends_at, "ends_at") if plan.ends_at is not None else None
    if ends is not None and not starts < ends <= starts + LONGEST:
        raise invalid("bad-assembly-end", "the end comes after the start, within a day",
                      field="ends_at")
    kept = set(agenda_ids(before)) if before is not None else set()
    agenda: list[int] = []
    for pid in plan.agenda:
        if pid in agenda:
            continue
        p = session.get(Proposal, pid) if 0 < pid <= MAX_ID else None
        # A matter already on the agenda stays even if it was decided meanwhile; a new
        # one must still be open, and the body's own.
        if p is None or p.body_id != body.id or (pid not in kept and p.state not in OPEN_STATES):
            raise invalid("bad-agenda", "the agenda names open proposals of this body",
                          field="agenda", proposal=pid)
        agenda.append(pid)
    title = plan.title.strip() or f"Asamblea de {body.name}"
    return Plan(starts, place, ends, plan.address.strip(), title[:300],
                plan.description.strip(), tuple(agenda))


def schedule(tx: Tx, body: LocalActor, plan: Plan, timezone: str) -> Assembly:
    """Call an assembly of `body` (its coordination only), in the node's `timezone`,
    and publish it to the body's followers."""
    session = tx.session
    require_facilitator(session, tx.member, body)
    plan = _checked(session, body, plan, tx.now(), None)
    now = tx.now()
    a = Assembly(body_id=body.id or 0, title=plan.title, description=plan.description,
                 starts_at=plan.starts_at, ends_at=plan.ends_at, timezone=timezone,
                 place=plan.place, address=plan.address, agenda=json.dumps(list(plan.agenda)),
                 created_by=tx.member.id or 0, created_at=now, updated_at=now)
    session.add(a)
    session.flush()
    tx.audit("assembly.scheduled", f"body:{body.handle}",
             {"assembly": a.id, "starts_at": plan.starts_at.isoformat()})
    assembly_event.publish(tx, body, a, agenda_titles(session, a))
    return a


def by_id(session: Session, body: LocalActor, assembly_id: int) -> Assembly:
    a = session.get(Assembly, assembly_id) if 0 < assembly_id <= MAX_ID else None
    if a is None or a.body_id != body.id:
        raise not_found("assembly")
    return a


def _body(session: Session, a: Assembly) -> LocalActor:
    body = session.get(LocalActor, a.body_id)
    assert body is not None
    return body


def change(tx: Tx, a: Assembly, plan: Plan) -> Assembly:
    """A new time, place or agenda for a called assembly."""
    session = tx.session
    body = _body(session, a)
    require_facilitator(session, tx.member, body)
    plan = _checked(session, body, plan, tx.now(), a)
    ASSEMBLY.move(session, a, "change", title=plan.title, description=plan.description,
                  starts_at=plan.starts_at, ends_at=plan.ends_at, place=plan.place,
                  address=plan.address, agenda=json.dumps(list(plan.agenda)),
                  sequence=a.sequence + 1)
    tx.audit("assembly.changed", f"body:{body.handle}",
             {"assembly": a.id, "sequence": a.sequence})
    assembly_event.publish(tx, body, a, agenda_titles(session, a))
    return a


def cancel(tx: Tx, a: Assembly, note: str = "") -> Assembly:
    """Call it off: calendars mark it cancelled, followers get the Event's Update."""
    session = tx.session
    body = _body(session, a)
    require_facilitator(session, tx.member, body)
    ASSEMBLY.move(session, a, "cancel", note=note.strip(), sequence=a.sequence + 1)
    tx.audit("assembly.cancelled", f"body:{body.handle}", {"assembly": a.id})
    assembly_event.publish(tx, body, a, agenda_titles(session, a))
    return a


def held(tx: Tx, body: LocalActor, assembly_id: int, meeting: Meeting) -> Assembly:
    """The assembly met and `meeting` is its record: link them, and tell followers
    where the record is. Called by `decisions.record_meeting`, in its transaction."""
    session = tx.session
    a = by_id(session, body, assembly_id)
    require_facilitator(session, tx.member, body)
    if ASSEMBLY.may("hold", a.state) and aware(a.starts_at) > tx.now() + EARLY:
        raise conflict("assembly-not-met", "this assembly has not met yet", field="assembly")
    ASSEMBLY.move(session, a, "hold", meeting_id=meeting.id, sequence=a.sequence + 1)
    tx.audit("assembly.held", f"body:{body.handle}",
             {"assembly": a.id, "meeting": meeting.id})
    assembly_event.publish(tx, body, a, agenda_titles(session, a))
    return a


def available_actions(session: Session, member: Member | None, a: Assembly,
                      now: datetime) -> list[str]:
    """What `member` may do with `a` at `now` (the node's clock): its body's coordination
    changes, cancels and, once it is due, records it (`hold`, through the meeting form)."""
    if "facilitator" not in roles_in(session, member, _body(session, a)):
        return []
    out = ASSEMBLY.actions_from(a.state)
    if "hold" in out and aware(a.starts_at) > now + EARLY:
        out.remove("hold")
    return out


def upcoming(session: Session, body: LocalActor, now: datetime,
             limit: int = 20) -> list[Assembly]:
    """Called assemblies not yet over, soonest first."""
    rows = session.exec(select(Assembly).where(
        Assembly.body_id == body.id, Assembly.state == S.scheduled,
        col(Assembly.starts_at) >= now - LONGEST)
        .order_by(col(Assembly.starts_at)).limit(limit)).all()
    return [a for a in rows if assembly_event.ends(a) >= now]


def for_calendar(session: Session, body: LocalActor, since: datetime,
                 limit: int = 500) -> list[Assembly]:
    """What the body's calendar feed lists: every assembly from `since` on, held and
    cancelled ones too (a cancelled one must reach the phones that have it)."""
    return list(session.exec(select(Assembly).where(
        Assembly.body_id == body.id, col(Assembly.starts_at) >= since)
        .order_by(col(Assembly.starts_at)).limit(limit)).all())



def due(session: Session, body: LocalActor, now: datetime,
        limit: int = 10) -> list[Assembly]:
    """Called assemblies whose time has come by `now` and whose meeting is not yet
    recorded: what the meeting form offers to link, most recent first."""
    return list(session.exec(select(Assembly).where(
        Assembly.body_id == body.id, Assembly.state == S.scheduled,
        col(Assembly.starts_at) <= now + EARLY)
        .order_by(col(Assembly.starts_at).desc()).limit(limit)).all())
