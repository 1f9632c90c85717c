"""What a body gave and received, with whom, over a period; and, at a federation,
the flows between its members. Only confirmed deliveries count."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from node.economy.catalogue import fmt
from node.models import EconomicEvent


def _events(session: Session, since: datetime | None, until: datetime | None,
            involving: str | None = None) -> list[EconomicEvent]:
    stmt = select(EconomicEvent).where(EconomicEvent.state == "confirmed")
    if involving:
        stmt = stmt.where((col(EconomicEvent.provider) == involving)
                          | (col(EconomicEvent.receiver) == involving))
    if since:
        stmt = stmt.where(col(EconomicEvent.happened_at) >= since)
    if until:
        stmt = stmt.where(col(EconomicEvent.happened_at) < until)
    return list(session.exec(stmt).all())


def _totals(rows: dict[tuple[str, str], Decimal]) -> list[dict[str, str]]:
    return [{"kind": k, "unit": u, "quantity": fmt(q)} for (k, u), q in sorted(rows.items())]


def of_body(session: Session, body: str, since: datetime | None = None,
            until: datetime | None = None) -> list[dict[str, Any]]:
    """Per partner: what the body gave it and received from it (a body's deliveries
    inside itself appear with itself as the partner)."""
    gave: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    got: dict[str, dict[tuple[str, str], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for ev in _events(session, since, until, body):
        q = Decimal(ev.quantity)
        if ev.provider == body:
            gave[ev.receiver][(ev.kind, ev.unit)] += q
        if ev.receiver == body:
            got[ev.provider][(ev.kind, ev.unit)] += q
    return [{"partner": p, "gave": _totals(gave.get(p, {})),
             "received": _totals(got.get(p, {}))} for p in sorted(set(gave) | set(got))]


def flows(session: Session, members: list[str], since: datetime | None = None,
          until: datetime | None = None) -> list[dict[str, Any]]:
    """Between members of a federation: who gave what to whom."""
    inside = set(members)
    sums: dict[tuple[str, str], dict[tuple[str, str], Decimal]] = defaultdict(
        lambda: defaultdict(Decimal))
    for ev in _events(session, since, until):
        if ev.provider in inside and ev.receiver in inside:
            sums[(ev.provider, ev.receiver)][(ev.kind, ev.unit)] += Decimal(ev.quantity)
    return [{"from": a, "to": b, "resources": _totals(r)} for (a, b), r in sorted(sums.items())]
