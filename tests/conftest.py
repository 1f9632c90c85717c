"""Shared fixtures. The whole suite runs on SQLite, and on PostgreSQL when
COMUNA_TEST_PG_URL names a server (e.g. postgresql://postgres@127.0.0.1:54329/postgres):
each test then gets databases of its own on that server."""

from __future__ import annotations

import os

# Accounts are hashed at a cost of microseconds in the tests (and in the node
# processes they start, which inherit the environment): the standard argon2 cost
# is a good fraction of a second, and the suite creates hundreds of accounts.
# tests/test_passwords.py checks the standard cost itself.
os.environ.setdefault("COMUNA_PASSWORD_COST", "test")
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from node.app import create_app
from node.cli.main import main as cli
from node.config import Settings, load_settings
from tests.fakeremote import FakeRemote, start_fake_remote

PG_URL = os.environ.get("COMUNA_TEST_PG_URL", "")
NODE_URL = "http://node.test"


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


class Databases:
    """Creates one empty database per node; drops them at the end of the test."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []

    def new(self, name: str) -> str:
        if not PG_URL:
            return f"sqlite:///{self.tmp / (name + '.sqlite3')}"
        db = f"t_{name}_{uuid.uuid4().hex[:10]}"
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        admin.dispose()
        self.created.append(db)
        base, _, _ = PG_URL.rpartition("/")
        return f"{base}/{db}"

    def drop_all(self) -> None:
        if not PG_URL or not self.created:
            return
        admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for db in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def databases(tmp_path: Path) -> Iterator[Databases]:
    dbs = Databases(tmp_path)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def make_node(tmp_path: Path, databases: Databases, monkeypatch: pytest.MonkeyPatch
              ) -> Callable[..., Settings]:
    """Initialise a node's data directory the way a facilitator would, via the CLI."""

    def _make(handle: str = "maizal", url: str = NODE_URL, level: str = "commune",
              name: str = "Comuna El Maizal", **overrides: Any) -> Settings:
        data_dir = tmp_path / f"node-{handle}-{uuid.uuid4().hex[:6]}"
        data_dir.mkdir()
        db_url = databases.new(handle)
        from node.config import write_config_file

        write_config_file(data_dir, {"database_url": db_url, "allow_private_networks": True,
                                     **overrides})
        monkeypatch.delenv("COMUNA_DATA_DIR", raising=False)
        assert cli(["init", "--data-dir", str(data_dir), "--url", url, "--handle", handle,
                    "--name", name, "--level", level]) == 0
        monkeypatch.delenv("COMUNA_DATA_DIR", raising=False)
        return load_settings(data_dir)

    return _make


@pytest.fixture
def remote() -> Iterator[FakeRemote]:
    server = start_fake_remote()
    yield server
    server.close()


@pytest.fixture
def node(make_node: Callable[..., Settings]) -> Settings:
    return make_node()


@pytest.fixture
def client(node: Settings) -> Iterator[TestClient]:
    """The node in-process without background loops, so tests see rows as stored."""
    app = create_app(node, background=False)
    with TestClient(app, base_url=NODE_URL) as c:
        yield c


def ctx_of(client: TestClient) -> Any:
    app = client.app
    while not hasattr(app, "state"):
        app = app.app  # type: ignore[attr-defined]
    return app.state.ctx


def hold_to_openapi(client: TestClient) -> list[str]:
    """Check every JSON API answer the client receives against the schema the node's
    own OpenAPI document gives for that route and status. Returns the routes checked."""
    import schemathesis

    app = client.app
    while not hasattr(app, "openapi"):
        app = app.app  # type: ignore[attr-defined]
    schema = schemathesis.openapi.from_dict(app.openapi())
    checked: list[str] = []
    # Racing tests send from several threads. schemathesis builds werkzeug route maps,
    # which compile code with the ast module, and on CPython 3.11 two threads doing
    # that at once raise SystemError. The check is the test's, so it runs one at a time.
    one_at_a_time = threading.Lock()

    def hook(response: Any) -> None:
        request = response.request
        if not request.url.path.startswith("/api/v1/") or response.status_code in (204, 304):
            return
        with one_at_a_time:
            operation = schema.find_operation_by_path(request.method, request.url.path)
            assert operation is not None, f"{request.method} {request.url.path} is not documented"
            response.read()
            operation.validate_response(response)
            checked.append(f"{request.method} {operation.path} {response.status_code}")

    client.event_hooks["response"].append(hook)
    return checked
