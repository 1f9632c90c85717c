"""A matter's escalation as a state graph: every move is one compare-and-set, so a
move computed from a row that changed meanwhile is refused (409) and changes nothing,
and the vote clock's "could not send it yet" never undoes a matter already sent."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.context import NodeContext
from node.errors import Problem
from node.federations import escalation
from node.federations.matter_states import ESCALATION, Escalation
from node.models import LocalActor, Proposal
from tests.conftest import ctx_of
from tests.helpers import id_of, stored


@pytest.fixture
def ours(client: TestClient) -> tuple[NodeContext, int]:
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        p = Proposal(body_id=body.id or 0, author_id=None, state="deliberation")
        s.add(p)
        s.commit()
        return ctx, id_of(p)


def _row(ctx: NodeContext, pid: int) -> tuple[str, str, str]:
    with Session(ctx.engine) as s:
        p = stored(s, Proposal, pid)
        return p.escalation, p.escalated_to, p.escalation_note


def test_a_stale_move_is_refused_and_changes_nothing(ours: tuple[NodeContext, int]) -> None:
    ctx, pid = ours
    with Session(ctx.engine) as stale, Session(ctx.engine) as other:
        seen = stored(stale, Proposal, pid)
        assert seen.escalation == Escalation.none
        fresh = stored(other, Proposal, pid)
        ESCALATION.move(other, fresh, "send", escalated_to="https://fed.example/a",
                        escalation_note="")
        other.commit()
        # `seen` still says "" (its session read it before), so the graph allows the
        # move in memory; the row no longer does.
        with pytest.raises(Problem) as err:
            ESCALATION.move(stale, seen, "wait", escalation_note="graph unreachable")
        assert err.value.status == 409
        stale.rollback()
    assert _row(ctx, pid) == ("sent", "https://fed.example/a", "")


def test_the_clock_never_undoes_a_sent_matter(ours: tuple[NodeContext, int]) -> None:
    ctx, pid = ours
    escalation._mark_escalation(ctx, pid, "wait", "graph unreachable")
    assert _row(ctx, pid) == ("pending", "", "graph unreachable")
    with Session(ctx.engine) as s:
        ESCALATION.move(s, stored(s, Proposal, pid), "send", escalated_to="https://fed.example/a",
                        escalation_note="")
        s.commit()
    escalation._mark_escalation(ctx, pid, "wait", "again")
    escalation._mark_escalation(ctx, pid, "clear", "")
    assert _row(ctx, pid) == ("sent", "https://fed.example/a", "")


def test_moves_follow_the_graph() -> None:
    assert ESCALATION.actions_from("") == ["send", "take", "wait"]
    assert ESCALATION.actions_from("taken") == ["refuse"]
    sent = Proposal(body_id=1, author_id=None, escalation="sent")
    # Refused on the state alone: the unbound session is never used.
    with pytest.raises(Problem) as err, Session() as nowhere:
        ESCALATION.move(nowhere, sent, "send")
    assert err.value.status == 409
