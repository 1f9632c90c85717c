"""A vote cast under a mandate as a state graph: a move computed from a row that
changed meanwhile is refused (409) and changes nothing, and each side's states stay
apart (a vote we sent is never counted or withdrawn here; one counted is never
"sent again")."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from node.context import NodeContext
from node.errors import Problem
from node.federations.mandate_states import MANDATED_VOTE, VoteState
from node.models import LocalActor, Proposal
from node.models.matters import MandatedVote
from tests.conftest import ctx_of
from tests.helpers import id_of, stored


@pytest.fixture
def counted(client: TestClient) -> tuple[NodeContext, int]:
    ctx = ctx_of(client)
    with Session(ctx.engine) as s:
        body = s.exec(select(LocalActor).where(LocalActor.handle == "maizal")).one()
        p = Proposal(body_id=body.id or 0, author_id=None, state="vote")
        s.add(p)
        s.flush()
        v = MandatedVote(uri="https://a.example/v1", proposal_id=p.id or 0,
                         member_body="https://a.example/actors/a", mandate_uri="m1",
                         spokesperson="s", version=1, choice="for", state=VoteState.counted)
        s.add(v)
        s.commit()
        return ctx, id_of(v)


def _row(ctx: NodeContext, vid: int) -> tuple[str, str]:
    with Session(ctx.engine) as s:
        v = stored(s, MandatedVote, vid)
        return v.state, v.choice


def test_a_stale_move_is_refused_and_changes_nothing(counted: tuple[NodeContext, int]) -> None:
    ctx, vid = counted
    with Session(ctx.engine) as stale, Session(ctx.engine) as other:
        seen = stored(stale, MandatedVote, vid)
        assert seen.state == VoteState.counted
        MANDATED_VOTE.move(other, stored(other, MandatedVote, vid), "withdraw")
        other.commit()
        with pytest.raises(Problem) as err:
            MANDATED_VOTE.move(stale, seen, "withdraw")
        assert err.value.status == 409
        stale.rollback()
    assert _row(ctx, vid) == ("withdrawn", "for")


def test_a_newer_vote_is_counted_again_with_its_choice(counted: tuple[NodeContext, int]) -> None:
    ctx, vid = counted
    with Session(ctx.engine) as s:
        v = stored(s, MandatedVote, vid)
        MANDATED_VOTE.move(s, v, "withdraw")
        MANDATED_VOTE.move(s, v, "recount", choice="against")
        s.commit()
    assert _row(ctx, vid) == ("counted", "against")


def test_the_sides_stay_apart() -> None:
    assert MANDATED_VOTE.actions_from("counted") == ["recount", "withdraw"]
    assert MANDATED_VOTE.actions_from("sent") == ["resend", "refuse"]
    for state, action in (("counted", "resend"), ("counted", "refuse"),
                          ("sent", "withdraw"), ("refused", "recount")):
        vote = MandatedVote(uri="u", proposal_id=1, member_body="b", mandate_uri="m",
                            spokesperson="s", version=1, choice="for", state=state)
        # Refused on the state alone: the unbound session is never used.
        with pytest.raises(Problem), Session() as nowhere:
            MANDATED_VOTE.move(nowhere, vote, action)
