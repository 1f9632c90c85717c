"""Two coordinators who take each other's role at the same moment: one of them must
stay. The second change waits for the first (the body's row is read under a write lock,
on SQLite too) and is then refused, because its author is no longer a coordinator."""

from __future__ import annotations

import threading
import time

from sqlmodel import Session

from node.config import Settings
from node.governance import members
from node.models import LocalActor, Member
from tests.govfixtures import build_commune
from tests.helpers import stored


def test_two_coordinators_revoking_each_other_at_once_leave_one(node: Settings) -> None:
    c = build_commune(node)
    with c.session() as s:
        members.grant(c.ctx.tx(s), s.merge(c.people["m0"]), s.merge(c.assembly), "facilitator")
        s.commit()
    body_id, ana, ben = c.assembly.id, c.people["facil"].id, c.people["m0"].id

    first_holds, first_may_commit = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def revoke(by: int | None, target: int | None, name: str, hold: bool) -> None:
        try:
            with Session(c.ctx.engine) as s:
                me = stored(s, Member, by)
                members.change_role(c.ctx.tx(s, me), stored(s, LocalActor, body_id),
                                    stored(s, Member, target), "revoke_facilitator")
                if hold:
                    first_holds.set()
                    assert first_may_commit.wait(30)
                s.commit()
            outcomes[name] = "done"
        except Exception as exc:  # noqa: BLE001 (the outcome is what the test checks)
            outcomes[name] = getattr(exc, "code", repr(exc))
            first_holds.set()

    first = threading.Thread(target=revoke, args=(ana, ben, "ana", True))
    second = threading.Thread(target=revoke, args=(ben, ana, "ben", False))
    first.start()
    assert first_holds.wait(30)
    second.start()
    # Nothing to wait on inside the second transaction: give it the time to read (with
    # the lock it is blocked there; without, it has read that both still coordinate).
    time.sleep(0.3)
    first_may_commit.set()
    first.join(60)
    second.join(60)
    assert outcomes["ana"] == "done", outcomes
    assert outcomes["ben"] != "done", outcomes
    with c.session() as s:
        assert members.coordinators(s, stored(s, LocalActor, body_id)) == [ana]
