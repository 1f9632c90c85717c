"""The economy's state graphs and `available_actions`: for every state an offer, an
exchange, a commitment and a delivery reach, and for each role (the body's
coordinator, an integrante on an enterprise's council, a plain integrante, someone
from outside), an action that is offered succeeds and one that is not is refused by
the domain itself."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, col, select

from node.config import Settings
from node.economy import enterprises, handovers, operations, states
from node.economy.catalogue import shared
from node.errors import Problem
from node.governance.bodies import body_by_handle
from node.models import Commitment, EconomicEvent, Exchange, Intent, LocalActor, Member
from node.tx import Tx
from tests.govfixtures import Commune, build_commune
from tests.helpers import id_of, stored

NS = shared().namespace
ROLES = ("facil", "m1", "m0", "outsider")


def _one(s: Session, model: Any, **where: Any) -> Any:
    stmt = select(model)
    for k, v in where.items():
        stmt = stmt.where(getattr(model, k) == v)
    return s.exec(stmt).one()


@pytest.fixture
def world(node: Settings) -> Commune:
    """One body with things in every state the economy's graphs reach."""
    com = build_commune(node)
    with com.session() as s:
        body = body_by_handle(s, com.assembly.handle)
        facil = s.merge(com.people["facil"])
        tx = com.ctx.tx(s, facil)
        gas = enterprises.create(tx, body, "gas", "Empresa de gas")
        enterprises.add_worker(tx, body, gas, s.merge(com.people["m1"]), True)

        def pair(kind: str, offered: str, needed: str) -> Exchange:
            operations.publish(tx, body, "offer", NS + kind, Decimal(offered),
                               "kilogram", "gas")
            operations.publish(tx, body, "need", NS + kind, Decimal(needed),
                               "kilogram")
            ex = s.exec(select(Exchange).order_by(col(Exchange.id).desc())).first()
            assert ex is not None
            return ex

        def deliver(ex: Exchange, amount: str, accept: bool | None) -> None:
            c = _one(s, Commitment, exchange=ex.uri)
            ev = handovers.record(tx, body, c.uri, Decimal(amount))
            if accept is not None:
                handovers.confirm(tx, body, ev.uri, accept)

        operations.publish(tx, body, "offer", NS + "rice", Decimal(5), "kilogram",
                           "gas")  # stays open
        gone = operations.publish(tx, body, "offer", NS + "cheese", Decimal(5),
                                  "kilogram")
        operations.withdraw(tx, body, gone.id or 0)
        pair("gas", "10", "4")  # proposed; the need is matched (all of it held)
        for kind, accept in (("maize", True), ("cassava", False), ("coffee", True),
                             ("sugar", True)):
            ex = pair(kind, "4", "4")
            operations.answer(tx, body, ex.id or 0, accept)
        deliver(stored(s, Exchange, _ex(s, "maize")), "1", None)  # awaits confirmation
        coffee = _ex(s, "coffee")
        deliver(stored(s, Exchange, coffee), "1", True)  # partial
        deliver(stored(s, Exchange, coffee), "1", False)  # a disputed delivery
        deliver(stored(s, Exchange, _ex(s, "sugar")), "4", True)  # fulfilled
        s.commit()
    return com


def _ex(s: Session, kind: str) -> int:
    c = s.exec(select(Commitment).where(Commitment.kind == NS + kind)).first()
    assert c is not None
    ex: Exchange = _one(s, Exchange, uri=c.exchange)
    return id_of(ex)


def _try(com: Commune, who: str, model: Any, obj_id: int, action: str) -> Problem | None:
    """Take `action` as `who` in a transaction that is rolled back; the refusal, if
    any."""
    with Session(com.ctx.engine) as s:
        body = body_by_handle(s, com.assembly.handle)
        me = s.exec(select(Member).where(Member.username == who)).one()
        tx = com.ctx.tx(s, me)
        obj = stored(s, model, obj_id)
        try:
            if model is Intent:
                operations.withdraw(tx, body, obj_id)
            elif model is Exchange:
                operations.answer(tx, body, obj_id, action == "accept")
            elif model is Commitment and action == "deliver":
                left = states.left_to_deliver(s, obj)
                handovers.record(tx, body, obj.uri, left if left > 0 else Decimal(1))
            elif model is Commitment:
                handovers.cancel(tx, body, obj.uri)
            elif model is EconomicEvent:
                handovers.confirm(tx, body, obj.uri, action == "confirm")
            elif model is LocalActor:
                _body_action(tx, body, action)
            s.flush()
        except Problem as exc:
            return exc
        finally:
            s.rollback()
    return None


def _body_action(tx: Tx, body: LocalActor, action: str) -> None:
    from node.economy import plans

    if action == "publish":
        mine = states.publishable_for(tx.session, tx.member, body)
        operations.publish(tx, body, "offer", NS + "papaya", Decimal(1), "kilogram",
                           mine[0] if mine else None)
    elif action == "add_enterprise":
        enterprises.create(tx, body, "pan", "Panadería")
    else:
        doc = plans.build(tx, body, "Vivero", "", [{"name": "Sembrar", "inputs": [
            {"action": "work", "kind": NS + "tractor-work", "quantity": "1",
             "unit": "hour"}]}])
        plans.draft(tx, body, doc, {})


def _cases(com: Commune) -> list[tuple[Any, int, str, list[str]]]:
    """(model, id, its state, the actions its kind has) for every row of the world."""
    out: list[tuple[Any, int, str, list[str]]] = []
    with Session(com.ctx.engine) as s:
        body = body_by_handle(s, com.assembly.handle)
        out.append((LocalActor, body.id or 0, "-", ["publish", "add_enterprise",
                                                     "draft_plan"]))
        for model, actions in ((Intent, ["withdraw"]), (Exchange, ["accept", "refuse"]),
                               (Commitment, ["deliver", "cancel"]),
                               (EconomicEvent, ["confirm", "dispute"])):
            rows: list[Any] = list(s.exec(select(model)).all())
            for row in rows:
                out.append((model, row.id, row.state, actions))
    return out


def test_every_state_is_reached(world: Commune) -> None:
    seen = {(m.__name__, st) for m, _, st, _ in _cases(world)}
    for model, enum in ((Intent, states.IntentState), (Exchange, states.ExchangeState),
                        (EconomicEvent, states.EventState)):
        assert {(model.__name__, str(v)) for v in enum} <= seen
    assert {("Commitment", str(v)) for v in states.CommitmentState} <= seen


def test_offered_actions_succeed_and_the_others_are_refused(world: Commune) -> None:
    urls = world.ctx.urls
    checked = offered_somewhere = 0
    for model, obj_id, state, actions in _cases(world):
        for who in ROLES:
            with Session(world.ctx.engine) as s:
                body = body_by_handle(s, world.assembly.handle)
                me = s.exec(select(Member).where(Member.username == who)).one()
                offered = states.available_actions(s, urls, me, body, s.get(model, obj_id))
            assert set(offered) <= set(actions)
            for action in actions:
                why = _try(world, who, model, obj_id, action)
                label = f"{model.__name__}#{obj_id} ({state}) {action} by {who}"
                if action in offered:
                    offered_somewhere += 1
                    assert why is None, f"{label} offered but refused: {why}"
                else:
                    assert why is not None, f"{label} not offered but allowed"
                    assert why.status in (401, 403, 404, 409), label
                checked += 1
    assert checked > 60 and offered_somewhere > 10


def test_who_is_offered_what(world: Commune) -> None:
    urls = world.ctx.urls
    with Session(world.ctx.engine) as s:
        body = body_by_handle(s, world.assembly.handle)
        people = {n: s.exec(select(Member).where(Member.username == n)).one() for n in ROLES}

        def acts(who: str, obj: Any) -> list[str]:
            return states.available_actions(s, urls, people[who], body, obj)

        assert acts("facil", body) == ["publish", "add_enterprise", "draft_plan"]
        assert acts("m1", body) == ["publish"]  # for the enterprise whose council it is
        assert acts("m0", body) == [] and acts("outsider", body) == []
        assert states.publishable_for(s, people["m1"], body) == ["gas"]
        proposed = s.exec(select(Exchange).where(Exchange.state == "proposed")).one()
        # The gas enterprise gives: its council answers, as does the coordination.
        assert acts("facil", proposed) == ["accept", "refuse"]
        assert acts("m1", proposed) == ["accept", "refuse"] and acts("m0", proposed) == []
        open_offer = s.exec(select(Intent).where(Intent.kind == NS + "rice")).one()
        assert acts("m1", open_offer) == ["withdraw"] and acts("m0", open_offer) == []
        assert states.waiting_answers(s, urls, people["m1"], body) == [proposed]
        assert states.waiting_answers(s, urls, people["m0"], body) == []
        event = s.exec(select(EconomicEvent).where(EconomicEvent.state == "recorded")).one()
        # The body itself receives: only its coordination confirms.
        assert acts("facil", event) == ["confirm", "dispute"] and acts("m1", event) == []


def test_a_move_from_a_state_the_row_left_is_refused(world: Commune) -> None:
    with Session(world.ctx.engine) as s:
        ex = s.exec(select(Exchange).where(Exchange.state == "proposed")).one()
        stale = Exchange(**{k: getattr(ex, k) for k in ("id", "uri", "proposer", "mode")},
                         state="proposed")
        states.EXCHANGE.move(s, ex, "agree")
        with pytest.raises(Problem) as got:
            states.EXCHANGE.move(s, stale, "refuse")
        assert got.value.status == 409 and got.value.code == "bad-state"
        s.rollback()
