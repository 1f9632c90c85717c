"""The economy and the project bank act in the unit of work they are handed: the
audit log names the member who acted (and the body, when a match it proposes is set
in motion by a member's act), and "now" is the Tx's clock."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlmodel import col, select

from node.clock import ManualClock
from node.config import Settings
from node.economy import enterprises, operations
from node.economy.catalogue import shared
from node.errors import Problem
from node.governance import members
from node.models import AuditEntry, Intent
from node.models.base import aware
from node.projects import bank
from node.tx import Tx
from tests.govfixtures import build_commune

NS = shared().namespace
TEXTS = {"problem": "Sin agua en verano.", "lessons": "Cosechar la lluvia."}


def _actions(entries: list[AuditEntry]) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in entries]


def test_a_member_publishing_and_the_body_proposing_are_each_named(node: Settings) -> None:
    c = build_commune(node)
    at = datetime(2031, 5, 1, 12, tzinfo=UTC)
    with c.session() as s:
        facil = s.merge(c.people["facil"])
        body = s.merge(c.assembly)
        tx = Tx(s, c.ctx.urls, facil, ManualClock(at))
        enterprises.create(tx, body, "gas", "Empresa de gas")
        offer = operations.publish(tx, body, "offer", NS + "gas", Decimal(10), "kilogram",
                                   "gas", rise_after=60)
        operations.publish(tx, body, "need", NS + "gas", Decimal(5), "kilogram")
        s.commit()
        since = s.exec(select(AuditEntry).where(
            AuditEntry.action == "enterprise.created")).one()
        entries = list(s.exec(select(AuditEntry).where(col(AuditEntry.seq) >= since.seq)
                              .order_by(col(AuditEntry.seq))).all())
        assert _actions(entries) == [
            (f"member:{facil.id}", "enterprise.created"),
            (f"member:{facil.id}", "economy.offer"), (f"member:{facil.id}", "economy.need"),
            (f"body:{body.handle}", "economy.allocation.proposed")]
        assert all(aware(e.at) == at for e in entries)
        row = s.get(Intent, offer.id)
        assert row is not None and row.rise_at is not None
        assert (aware(row.rise_at) - at).total_seconds() == 60


def test_the_bank_names_who_published_and_who_adopted(node: Settings) -> None:
    c = build_commune(node)
    with c.session() as s:
        facil, m0 = s.merge(c.people["facil"]), s.merge(c.people["m0"])
        assembly, council = s.merge(c.assembly), s.merge(c.council)
        members.grant(c.ctx.tx(s), facil, council, "facilitator")
        with pytest.raises(Problem) as refused:
            bank.publish_record(c.ctx.tx(s, m0), assembly, "Aljibe", "agua", TEXTS)
        assert refused.value.status == 403
        origin = bank.publish_record(c.ctx.tx(s, facil), council, "Aljibe", "agua", TEXTS)
        adopted = bank.adopt(c.ctx.tx(s, facil), assembly, origin.id or 0, "En la escuela.")
        s.commit()
        assert adopted.adopted_from == origin.uri and adopted.author.endswith("/maizal")
        published = s.exec(select(AuditEntry).where(AuditEntry.action == "project.published")
                           .order_by(col(AuditEntry.seq))).all()
        assert [e.actor for e in published] == [f"member:{facil.id}"] * 2
        with pytest.raises(Problem) as again:
            bank.adopt(c.ctx.tx(s, facil), assembly, origin.id or 0)
        assert again.value.code == "adopted"
