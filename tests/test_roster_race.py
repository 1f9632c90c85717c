"""Two coordinators who take each other's role at the same moment: one of them must
stay. The second change waits for the first (the body's row is read under a write lock,
on SQLite too) and is then refused, because its author is no longer a coordinator."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from node.config import Settings
from node.governance import members
from node.models import LocalActor, Member
from tests.govfixtures import build_commune
from tests.helpers import stored
from tests.races import second_while_first_holds


def test_two_coordinators_revoking_each_other_at_once_leave_one(node: Settings) -> None:
    c = build_commune(node)
    with c.session() as s:
        members.grant(c.ctx.tx(s), s.merge(c.people["m0"]), s.merge(c.assembly), "facilitator")
        s.commit()
    body_id, ana, ben = c.assembly.id, c.people["facil"].id, c.people["m0"].id

    def revoke(by: int | None, target: int | None, hold: Callable[[], None]) -> None:
        with Session(c.ctx.engine) as s:
            members.change_role(c.ctx.tx(s, stored(s, Member, by)),
                                stored(s, LocalActor, body_id), stored(s, Member, target),
                                "revoke_facilitator")
            hold()
            s.commit()

    outcomes = second_while_first_holds(lambda hold: revoke(ana, ben, hold),
                                        lambda: revoke(ben, ana, lambda: None))
    assert outcomes["first"] == "done", outcomes
    assert outcomes["second"] != "done", outcomes
    with c.session() as s:
        assert members.coordinators(s, stored(s, LocalActor, body_id)) == [ana]
