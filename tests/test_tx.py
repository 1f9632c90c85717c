"""The unit of work (node/tx.py): who acts is named one way in the audit log, "now"
comes from the clock it was given, after-commit work runs only on a commit, and a
function that needs a person refuses any other actor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlmodel import Session, SQLModel, col, select

from node.activitypub.urls import Urls
from node.clock import ManualClock
from node.errors import Problem
from node.models import AuditEntry, LocalActor, Member
from node.tx import Tx

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
