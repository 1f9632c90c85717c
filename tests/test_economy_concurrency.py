"""Two transactions holding the same offer at once: the second never takes what the
first took (a row lock and a re-read on PostgreSQL, the row version on both)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from node.config import Settings
from node.economy import intents
from node.economy.catalogue import shared
from node.errors import Problem
from node.models import Intent
from tests.govfixtures import build_commune
from tests.helpers import stored


def test_the_same_quantity_is_never_held_twice(node: Settings) -> None:
    c = build_commune(node)
    with c.session() as s:
        row = intents.publish(c.ctx.tx(s, c.people["facil"]), s.merge(c.assembly), "offer",
                              shared().namespace + "gas", Decimal(10), "kilogram")
        s.commit()
        rid = row.id
    a, b = Session(c.ctx.engine), Session(c.ctx.engine)
    try:
        ra, rb = stored(a, Intent, rid), stored(b, Intent, rid)
        assert ra.available == rb.available == "10"
        intents.take(c.ctx.tx(a), ra, Decimal(8))
        a.commit()
        with pytest.raises((Problem, StaleDataError)):
            intents.take(c.ctx.tx(b), rb, Decimal(8))
            b.commit()
        b.rollback()
    finally:
        a.close()
        b.close()
    with Session(c.ctx.engine) as s:
        assert stored(s, Intent, rid).available == "2"
