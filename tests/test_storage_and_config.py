"""Storage backend, migrations, leases across claimers, configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from node.cli.main import main as cli
from node.config import ConfigError, Settings, load_settings
from node.context import build_context
from node.models import Delivery, OutboxItem
from node.storage.leases import claim
from node.storage.migrate import current_revision, head_revision
from tests.conftest import Databases, backend


def test_suite_runs_on_the_backend_it_claims(node: Settings) -> None:
    ctx = build_context(node)
    assert ctx.engine.dialect.name == backend()
    assert current_revision(ctx.engine) == head_revision()


def test_claims_never_share_a_row(node: Settings) -> None:
    ctx = build_context(node)
    with Session(ctx.engine) as s:
        assert ctx.primary.id is not None
        item = OutboxItem(actor_id=ctx.primary.id, activity_id="x", activity_type="Note",
                          body="{}")
        s.add(item)
        s.flush()
        assert item.id is not None
        for i in range(30):
            s.add(Delivery(outbox_id=item.id, inbox=f"https://h{i}.example/inbox",
                           host=f"h{i}.example"))
        s.commit()
    first = claim(ctx.engine, Delivery, 20, 60)
    second = claim(ctx.engine, Delivery, 20, 60)
    third = claim(ctx.engine, Delivery, 20, 60)
    ids1, ids2 = {r.id for r in first}, {r.id for r in second}
    assert len(ids1) == 20 and len(ids2) == 10 and not ids1 & ids2 and third == []
    # An expired lease makes the row claimable again.
    expired = claim(ctx.engine, Delivery, 5, -1)
    assert expired == []  # leases above are still live
    from sqlalchemy import update

    with Session(ctx.engine) as s:
        from datetime import timedelta

        from node.models.base import utcnow

        s.execute(update(Delivery).values(lease_until=utcnow() - timedelta(seconds=1)))
        s.commit()
    assert len(claim(ctx.engine, Delivery, 50, 60)) == 30


def test_config_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("COMUNA_DATA_DIR", raising=False)
    try:
        load_settings(None)
        raise AssertionError("expected ConfigError")
    except ConfigError as exc:
        assert "--data-dir" in str(exc)
    try:
        load_settings(tmp_path, url="ftp://x", max_body_bytes=3)
        raise AssertionError("expected ConfigError")
    except ConfigError as exc:
        assert "COMUNA_URL" in str(exc) and "COMUNA_MAX_BODY_BYTES" in str(exc)
    monkeypatch.setenv("COMUNA_DELIVERY_CONCURRENCY", "lots")
    assert cli(["status", "--data-dir", str(tmp_path)]) == 2
    assert "COMUNA_DELIVERY_CONCURRENCY" in capsys.readouterr().err


def test_env_overrides_file(node: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMUNA_MAX_BODY_BYTES", "4096")
    assert load_settings(node.data_dir).max_body_bytes == 4096
    monkeypatch.setenv("COMUNA_DATA_DIR", str(node.data_dir))
    assert load_settings().handle == "maizal"


def test_init_is_idempotent_and_refuses_a_new_handle(node: Settings,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    d = str(node.data_dir)
    assert cli(["init", "--data-dir", d, "--url", node.url, "--handle", "maizal",
                "--name", "x", "--level", "commune"]) == 0
    assert cli(["init", "--data-dir", d, "--url", node.url, "--handle", "other",
                "--name", "x", "--level", "commune"]) == 2
    assert "cannot change" in capsys.readouterr().err


def test_status_command(node: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["status", "--data-dir", str(node.data_dir)]) == 0
    out = capsys.readouterr().out
    assert "delivery   0 queued" in out
    assert cli(["status", "--data-dir", str(node.data_dir), "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["node"]["handle"] == "maizal"


def test_upgrade_from_the_first_schema_keeps_a_running_nodes_data(tmp_path: Path,
                                                                  databases: Databases) -> None:
    """A node created on schema 0001 (with followers, outbox and deliveries) upgrades."""
    from sqlalchemy import text

    from node.activitypub.identity import create_local_actor
    from node.storage.db import make_null_engine
    from node.storage.migrate import upgrade

    engine = make_null_engine(databases.new("upgrade", empty=True))
    upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text(
            "insert into local_actor (handle, name, summary, level, actor_type, is_primary, "
            "rsa_private_pem, rsa_public_pem, ed25519_private_pem, ed25519_public_multibase, "
            "created_at) values ('viejo', 'Viejo', '', 'commune', 'Group', true, 'a', 'b', "
            "'c', 'd', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "insert into follower (actor_id, follower_uri, inbox, shared_inbox, "
            "follow_activity_id, created_at) values (1, 'https://x/u', 'https://x/i', '', '',"
            " '2026-01-01 00:00:00')"))
        conn.execute(text(
            "insert into outbox_item (actor_id, activity_id, activity_type, object_id, public,"
            " body, created_at) values (1, 'https://n/a/1', 'Create', '', true, '{}',"
            " '2026-01-01 00:00:00')"))
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with Session(engine) as s:
        row = s.execute(text("select handle, kind, statute, public from local_actor")).one()
        assert tuple(row) == ("viejo", "assembly", "{}", True)
        assert s.execute(text("select count(*) from follower")).scalar() == 1
        # The upgraded table works with the new code.
        create_local_actor(s, "consejo", "Consejo", "commune")
        s.commit()


def test_serve_skips_the_migration_only_for_a_database_at_the_newest_schema(
        tmp_path: Path, databases: Databases) -> None:
    """`comuna serve` reads the revision itself to spare a child process; it must agree
    with Alembic and never call a behind, empty or missing database current."""
    from node.storage.db import make_null_engine
    from node.storage.migrate import upgrade
    from node.storage.schema_head import head_from_files
    from node.storage.schema_head import url_is_current as is_current

    assert head_from_files() == head_revision()
    current = databases.new("current")
    assert is_current(current)
    behind = databases.new("behind", empty=True)
    assert not is_current(behind)  # no alembic_version table at all
    engine = make_null_engine(behind)
    upgrade(engine, "0001")
    assert not is_current(behind)
    upgrade(engine)
    assert is_current(behind)
    assert not is_current(f"sqlite:///{tmp_path}/missing/none.db")
