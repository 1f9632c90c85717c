"""The unit of work (node/tx.py): who acts is named one way in the audit log, "now"
comes from the clock it was given, after-commit work runs only on a commit, and a
function that needs a person refuses any other actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, SQLModel, col, select

from node.activitypub.urls import Urls
from node.clock import ManualClock
from node.config import Settings
from node.errors import Problem
from node.governance import decisions, proposals
from node.models import AuditEntry, Decision, LocalActor, Member
from node.tx import Tx
from tests.govfixtures import build_commune

URLS = Urls("https://maizal.example")


def _engine(tmp_path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / 'tx.sqlite3'}")
    SQLModel.metadata.create_all(engine)
    return engine


def test_the_audit_names_the_actor_and_stamps_the_clocks_time(tmp_path: Path) -> None:
    clock = ManualClock(datetime(2031, 5, 1, 9, 30, tzinfo=UTC))
    with Session(_engine(tmp_path)) as s:
        person = Member(username="ana", password_hash="x", display_name="Ana")
        s.add(person)
        s.flush()
        person_id = person.id
        tx = Tx(s, URLS, person, clock)
        tx.audit("proposal.created", "proposal:1")
        clock.advance(60)
        tx.acting_as(None).audit("proposal.closed", "proposal:1")
        tx.acting_as("remote:https://norte.example/actors/norte").audit("x.y", "z:1")
        tx.commit()
        rows = s.exec(select(AuditEntry).order_by(col(AuditEntry.seq))).all()
    assert [r.actor for r in rows] == [
        f"member:{person_id}", "node", "remote:https://norte.example/actors/norte"]
    assert [r.at.replace(tzinfo=UTC) for r in rows[:2]] == [
        datetime(2031, 5, 1, 9, 30, tzinfo=UTC), datetime(2031, 5, 1, 9, 31, tzinfo=UTC)]


def test_an_actor_named_any_other_way_is_refused(tmp_path: Path) -> None:
    with Session(_engine(tmp_path)) as s:
        with pytest.raises(ValueError, match="names its actor"):
            Tx(s, URLS, "ana").audit("proposal.created", "proposal:1")


def test_after_commit_work_runs_on_commit_only(tmp_path: Path) -> None:
    engine = _engine(tmp_path)
    done: list[str] = []
    with Session(engine) as s:
        tx = Tx(s, URLS)
        tx.after_commit(lambda: done.append("dropped"))
        s.rollback()
        tx.after_commit(lambda: done.append("kept"))
        assert done == []
        tx.commit()
        tx.commit()
    assert done == ["kept"]


def test_a_person_is_asked_for_and_another_actor_refused(tmp_path: Path) -> None:
    with Session(_engine(tmp_path)) as s:
        body = LocalActor(handle="maizal", name="Maizal", level="commune", rsa_private_pem="",
                          rsa_public_pem="", ed25519_private_pem="",
                          ed25519_public_multibase="")
        for who in (None, body, "remote:https://x.example/a"):
            with pytest.raises(Problem) as refused:
                _ = Tx(s, URLS, who).member
            assert refused.value.status == 403
        assert Tx(s, URLS, body).body is body
        with pytest.raises(Problem):
            _ = Tx(s, URLS, None).body


def test_a_vote_closes_when_the_units_clock_says_so_not_the_wall(node: Settings) -> None:
    """Deadlines are read from the clock the unit of work carries: a test crosses a
    week-long vote's deadline by moving the clock, and the wall never decides."""
    c = build_commune(node)
    clock = ManualClock()
    c.ctx.clock = clock
    with c.session() as s:
        facil, m0, m1 = (s.merge(c.people[k]) for k in ("facil", "m0", "m1"))
        p = proposals.create(c.ctx.tx(s, m0), s.merge(c.assembly), "Techo", "Techar la escuela.")
        proposals.open_deliberation(c.ctx.tx(s, m0), p)
        proposals.open_vote(c.ctx.tx(s, facil), p, clock.now() + timedelta(days=7))
        for who in (m0, m1, facil):
            proposals.cast(c.ctx.tx(s, who), p, 1, "for")
        with pytest.raises(Problem) as early:
            decisions.close_vote(c.ctx.tx(s, facil), p)
        assert early.value.code == "not-due"
        assert decisions.close_due(c.ctx.tx(s)) == []
        clock.advance(7 * 24 * 3600 + 1)
        with pytest.raises(Problem) as late:  # the vote is over for ballots too
            proposals.cast(c.ctx.tx(s, m1), p, 1, "against")
        assert late.value.code == "vote-closed"
        closed = decisions.close_due(c.ctx.tx(s))
        s.commit()
        assert len(closed) == 1
        decision = s.get(Decision, closed[0])
        assert decision is not None and decision.outcome == "adopted"
        assert decision.decided_at.replace(tzinfo=UTC) == clock.now()
