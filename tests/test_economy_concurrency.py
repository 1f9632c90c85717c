"""Two transactions holding the same offer at once: the second never takes what the
first took (a row lock and a re-read on PostgreSQL, the row version on both)."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session

from node.config import Settings
from node.economy import intents, plans
from node.economy.catalogue import shared
from node.errors import Problem
from node.models import Intent, JointPlan
from tests.govfixtures import build_commune
from tests.helpers import stored
from tests.races import second_while_first_holds


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


def test_answers_to_one_plan_arriving_together_are_all_kept(node: Settings) -> None:
    """Two answers about one plan recorded at once (two inbox items, or an answer and
    the economy pass): the second waits for the first, and `answers` keeps both. Before
    the row was read under a lock, the second wrote back what it had read before the
    first committed, and one answer was lost for good."""
    c = build_commune(node)
    with c.session() as s:
        tx = c.ctx.tx(s, c.people["facil"])
        body = s.merge(c.assembly)
        work = {"name": "Sembrar",
                "inputs": [{"action": "work", "kind": shared().namespace + "tractor-work",
                            "quantity": "6", "unit": "hour"}],
                "outputs": [{"action": "produce", "kind": shared().namespace + "seeds",
                             "quantity": "2", "unit": "kilogram"}]}
        plan = plans.draft(tx, body, plans.build(tx, body, "Siembra", "", [work]), {})
        s.commit()
        here = c.ctx.urls.actor(body.handle)
        steps = [step.id for step in plans._parties(json.loads(plan.doc))]
        plan_id = plan.id
    assert len(steps) == 2

    def answer(step: str, hold: Callable[[], None]) -> None:
        with Session(c.ctx.engine) as s:
            plans.receive_answer(c.ctx.tx(s), s.merge(c.assembly), here, step, True)
            hold()
            s.commit()

    outcomes = second_while_first_holds(lambda hold: answer(steps[0], hold),
                                        lambda: answer(steps[1], lambda: None))
    assert outcomes == {"first": "done", "second": "done"}, outcomes
    with c.session() as s:
        got = json.loads(stored(s, JointPlan, plan_id).answers)
    assert sorted(got) == sorted(f"{step} {here}" for step in steps), got
