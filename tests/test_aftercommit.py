"""Publishing wakes delivery once the transaction commits, from any thread, and a
rolled-back transaction wakes nobody (node/storage/aftercommit.py)."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlmodel import Session, SQLModel

from node.storage import aftercommit


def _engine(tmp_path: Path, name: str) -> Engine:
    engine = create_engine(f"sqlite:///{tmp_path / name}")
    SQLModel.metadata.create_all(engine)
    return engine


def test_a_wake_asked_inside_a_transaction_happens_after_its_commit(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "a.sqlite3")
    woken: list[str] = []
    aftercommit.register(engine, {"delivery": lambda: woken.append("delivery"),
                                  "economy": lambda: woken.append("economy")})
    with Session(engine) as s:
        aftercommit.wake(s, "delivery")
        aftercommit.wake(s, "delivery")
        aftercommit.wake(s, "economy")
        assert woken == []  # nothing before the commit
        s.commit()
        assert woken == ["delivery", "economy"]  # once per topic
        s.commit()
        assert woken == ["delivery", "economy"]  # a later commit asks for nothing


def test_a_rolled_back_transaction_wakes_nobody_then_or_later(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "b.sqlite3")
    woken: list[str] = []
    aftercommit.register(engine, {"delivery": lambda: woken.append("delivery")})
    with Session(engine) as s:
        s.connection()  # a real transaction to roll back
        aftercommit.wake(s, "delivery")
        s.rollback()
        s.commit()
    assert woken == []


def test_a_commit_in_another_thread_wakes_from_that_thread(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "c.sqlite3")
    threads: list[str] = []
    aftercommit.register(engine, {"delivery": lambda: threads.append(
        threading.current_thread().name)})

    def work() -> None:
        with Session(engine) as s:
            aftercommit.wake(s, "delivery")
            s.commit()

    t = threading.Thread(target=work, name="route-worker")
    t.start()
    t.join()
    assert threads == ["route-worker"]


def test_an_engine_no_node_registered_wakes_nothing(tmp_path: Path) -> None:
    engine = _engine(tmp_path, "d.sqlite3")
    with Session(engine) as s:
        aftercommit.wake(s, "delivery")
        s.commit()  # no error, nobody to wake (a CLI command without loops)
