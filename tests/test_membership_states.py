"""A federation link as a state graph: a move computed from a row that changed
meanwhile is refused (409) and changes nothing; an answer about a member's new number
of families never ends its membership; a refused body may ask again."""

from __future__ import annotations

import pytest
from sqlmodel import Session, col, select
from starlette.testclient import TestClient

from node.context import NodeContext
from node.errors import Problem
from node.federations import membership
from node.federations.membership_states import LINK, LinkState
from node.governance import members
from node.models import AuditEntry, FederationLink, LocalActor
from tests.conftest import ctx_of
from tests.helpers import id_of, stored


@pytest.fixture
def asked(client: TestClient) -> tuple[NodeContext, int]:
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        link = FederationLink(body_id=body.id or 0, remote_uri="https://b.example/actors/b",
                              direction="has_member", state=LinkState.pending,
                              families_declared=40)
        s.add(link)
        s.commit()
        return ctx, id_of(link)


def _row(ctx: NodeContext, lid: int) -> tuple[str, int, int | None]:
    with Session(ctx.engine) as s:
        link = stored(s, FederationLink, lid)
        return link.state, link.families, link.families_declared


def test_a_stale_move_is_refused_and_changes_nothing(asked: tuple[NodeContext, int]) -> None:
    ctx, lid = asked
    with Session(ctx.engine) as stale, Session(ctx.engine) as other:
        seen = stored(stale, FederationLink, lid)
        assert seen.state == LinkState.pending
        membership._settle(ctx.tx(other), stored(other, FederationLink, lid), True)
        other.commit()
        # Still pending for its session, so the graph allows refusing it in memory;
        # the row, accepted meanwhile, does not.
        with pytest.raises(Problem) as err:
            LINK.move(stale, seen, "reject", families_declared=None)
        assert err.value.status == 409
        stale.rollback()
    assert _row(ctx, lid) == ("accepted", 40, None)


def test_a_refused_body_may_ask_again(asked: tuple[NodeContext, int]) -> None:
    ctx, lid = asked
    with Session(ctx.engine) as s:
        link = stored(s, FederationLink, lid)
        membership._settle(ctx.tx(s), link, False)
        LINK.move(s, link, "ask", families_declared=50)
        s.commit()
    assert _row(ctx, lid) == ("pending", 0, 50)


def test_refusing_a_new_number_keeps_the_member(asked: tuple[NodeContext, int]) -> None:
    ctx, lid = asked
    with Session(ctx.engine) as s:
        link = stored(s, FederationLink, lid)
        assert membership._settle(ctx.tx(s), link, True) == (False, 40)
        link.families_declared = 60
        assert membership._settle(ctx.tx(s), link, False) == (True, 60)
        s.commit()
    assert _row(ctx, lid) == ("accepted", 40, None)


def test_the_graph() -> None:
    assert LINK.actions_from("accepted") == ["accept"]
    assert LINK.actions_from("rejected") == ["ask", "accept", "reject"]
    link = FederationLink(body_id=1, remote_uri="https://b.example/actors/b",
                          direction="has_member", state="accepted")
    # Refused on the state alone: the unbound session is never used.
    with pytest.raises(Problem), Session() as nowhere:
        LINK.move(nowhere, link, "reject")


def test_the_answer_is_the_federations_and_the_join_its_askers(
        asked: tuple[NodeContext, int]) -> None:
    """The actor comes from the unit of work: a facilitator's Join is theirs; the answer
    to a Join is the federation's own, even when a facilitator decided it."""
    ctx, lid = asked
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        facil = members.create_member(ctx.tx(s), "facil", "una clave muy larga 123", "F")
        members.grant(ctx.tx(s), facil, body, "facilitator")
        link = stored(s, FederationLink, lid)
        link.remote_inbox = "https://b.example/inbox"
        s.add(link)
        membership.decide_member(ctx.tx(s, facil), body, lid, True)
        membership.request_join(ctx.tx(s, facil), body, "https://c.example/actors/c",
                                "https://c.example/inbox", 12)
        s.commit()
        entries = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq).desc())
                         .limit(2)).all()
        assert [(e.action, e.actor) for e in entries] == [
            ("federation.join_requested", f"member:{facil.id}"),
            ("federation.member_accepted", "body:maizal")]
