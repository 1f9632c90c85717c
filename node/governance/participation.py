"""Participation over time in a body, for the picture on its participation page: each
assembly (the people and families present, against those who could have come) and
each online vote (the people and families who voted, against the body's electorate
then), in the order they happened."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from node.governance.bodies import electorate
from node.models import Decision, LocalActor, Meeting
from node.models.base import aware

ASSEMBLY, ONLINE = "assembly", "online"


@dataclass(frozen=True)
class Turnout:
    at: datetime
    method: str  # assembly | online
    people: int
    of_people: int
    families: int
    of_families: int


def over_time(session: Session, body: LocalActor, most: int = 12) -> list[Turnout]:
    """The body's last `most` assemblies and online votes, oldest first. An assembly's
    "of" is what its decisions were counted against (the people present or the members,
    whichever is more); one that decided nothing is measured against today's members."""
    meetings = session.exec(select(Meeting).where(Meeting.body_id == body.id)
                            .order_by(col(Meeting.held_at).desc()).limit(most)).all()
    decisions = session.exec(select(Decision).where(
        Decision.body_id == body.id, col(Decision.method).in_([ONLINE, ASSEMBLY]))
        .order_by(col(Decision.decided_at).desc()).limit(most * 4)).all()
    counted: dict[int, tuple[int, int]] = {}
    out: list[Turnout] = []
    for d in decisions:
        record = json.loads(d.record)
        of = (int(record["electorate"]["members"]), int(record["electorate"]["families"]))
        if d.method == ASSEMBLY and d.meeting_id is not None:
            seen = counted.get(d.meeting_id, (0, 0))
            counted[d.meeting_id] = (max(seen[0], of[0]), max(seen[1], of[1]))
        elif d.method == ONLINE:
            c = record["counts"]
            out.append(Turnout(aware(d.decided_at), ONLINE, int(c["participants"]), of[0],
                               int(c["families"]), of[1]))
    today = electorate(session, body)[0] if any(m.id not in counted for m in meetings) else None
    for m in meetings:
        of = counted.get(m.id or 0) or (max(today.members if today else 0, m.attendance),
                                        max(today.families if today else 0, m.families))
        out.append(Turnout(aware(m.held_at), ASSEMBLY, m.attendance, of[0], m.families, of[1]))
    return sorted(out, key=lambda t: t.at)[-most:]
