"""Migration 0020 on a database holding inbox rows, on the run's database (SQLite or
PostgreSQL): each row gets the key of its delivery, the same activity may then be
stored once per sender and recipient, and the way back keeps one row per activity."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from node.models.inbox import delivery_key
from node.storage.db import make_migration_engine
from node.storage.migrate import alembic_config, upgrade
from tests.conftest import Databases

ROW = ("INSERT INTO inbox_item (activity_id, activity_type, actor, recipient, signer, body,"
       " received_at, state, attempts, next_attempt_at, last_error{key}) VALUES (:a, 'Create',"
       " 'http://far.test/users/a', :r, :s, '{{}}', CURRENT_TIMESTAMP, 'done', 0,"
       " CURRENT_TIMESTAMP, ''{value})")


def _insert(conn: object, activity: str, signer: str, recipient: str,
            with_key: bool = False) -> None:
    sql = ROW.format(key=", delivery_key" if with_key else "",
                     value=", :k" if with_key else "")
    conn.execute(text(sql), {"a": activity, "s": signer, "r": recipient,  # type: ignore[attr-defined]
                             "k": delivery_key(activity, signer, recipient)})


def test_0020_keys_the_rows_it_finds_and_goes_back(databases: Databases) -> None:
    url = databases.new("inboxcopies", empty=True)
    engine = create_engine(url)
    try:
        upgrade(engine, "0019")
        with engine.begin() as conn:
            _insert(conn, "http://far.test/activities/1", "http://far.test/users/a#k", "maizal")
            _insert(conn, "http://far.test/activities/2", "http://far.test/users/b#k", "")
        upgrade(engine)
        with engine.connect() as conn:
            keys: dict[str, str] = dict(conn.execute(text(
                "SELECT activity_id, delivery_key FROM inbox_item")).all())
        assert keys == {
            "http://far.test/activities/1": delivery_key(
                "http://far.test/activities/1", "http://far.test/users/a#k", "maizal"),
            "http://far.test/activities/2": delivery_key(
                "http://far.test/activities/2", "http://far.test/users/b#k", "")}
        with engine.begin() as conn:  # another sender's copy of activity 1: its own row
            _insert(conn, "http://far.test/activities/1", "http://far.test/users/x#k",
                    "maizal", with_key=True)
        with pytest.raises(IntegrityError), engine.begin() as conn:  # the same delivery
            _insert(conn, "http://far.test/activities/1", "http://far.test/users/a#k",
                    "maizal", with_key=True)

        migrator = make_migration_engine(url)
        try:
            with migrator.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, "0019")
        finally:
            migrator.dispose()
        with engine.connect() as conn:
            ids = sorted(r[0] for r in conn.execute(text("SELECT activity_id FROM inbox_item")))
        assert ids == ["http://far.test/activities/1", "http://far.test/activities/2"]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            _insert(conn, "http://far.test/activities/2", "http://far.test/users/x#k", "")
    finally:
        engine.dispose()
