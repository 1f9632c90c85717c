"""Shared fixtures. The whole suite runs on SQLite, and on PostgreSQL when
COMUNA_TEST_PG_URL names a server (e.g. postgresql://postgres@127.0.0.1:54329/postgres):
each test then gets databases of its own on that server."""

from __future__ import annotations

import atexit
import contextlib
import inspect
import os
import re
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Accounts are hashed at a cost of microseconds in the tests (and in the node
# processes they start, which inherit the environment): the standard argon2 cost
# is a good fraction of a second, and the suite creates hundreds of accounts.
# tests/test_passwords.py checks the standard cost itself.
os.environ.setdefault("COMUNA_PASSWORD_COST", "test")

import pytest
from sqlalchemy import create_engine, text
from starlette.testclient import TestClient

from node.app import create_app
from node.cli.main import main as cli
from node.config import Settings, load_settings
from tests import keypool
from tests.fakeremote import FakeRemote, start_fake_remote
from tests.pgrecycle import Recycler

PG_URL = os.environ.get("COMUNA_TEST_PG_URL", "")
NODE_URL = "http://node.test"


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


keypool.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Each test draws its RSA keys from the start of the pool again (tests/keypool.py)."""
    keypool.POOL.start_test()
    try:
        return (yield)
    finally:
        keypool.POOL.end_test()


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
                         ) -> Any:
    """A key made for a module's or the session's fixture outlives the test that first
    asked for it: the pool keeps it out of the next tests' draws."""
    if fixturedef.scope == "function":
        return (yield)
    with keypool.POOL.wider_fixture():
        return (yield)


class Databases:
    """Creates one database per node, already migrated to the newest schema unless
    `empty=True` (copied from a template migrated once per test run: the migrations
    themselves are run by the template and by the tests that ask for an empty
    database). At the end of the test, on PostgreSQL, the copies are emptied for the
    next test (tests/pgrecycle.py) and the empty ones dropped."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.created: list[str] = []  # made empty: dropped at the end
        self.copies: list[str] = []  # copies of the template: emptied and used again

    def new(self, name: str, empty: bool = False) -> str:
        if _RUNNING_DATABASE_FREE:
            raise pytest.UsageError(f"{_RUNNING_DATABASE_FREE[0]} is marked database_free "
                                    "but asked for a database of the run")
        if not PG_URL:
            path = self.tmp / (name + ".sqlite3")
            if not empty:
                shutil.copyfile(_templates.sqlite(), path)
            return f"sqlite:///{path}"
        if empty:
            db = f"t_{name}_{uuid.uuid4().hex[:10]}"
            _pg_admin(f'CREATE DATABASE "{db}"')
            self.created.append(db)
            return _pg_url(db)
        template = _templates.postgresql()
        db = _recycled.take() or ""
        if not db:
            db = f"t_{name}_{uuid.uuid4().hex[:10]}"
            _pg_admin(f'CREATE DATABASE "{db}" TEMPLATE "{template}"')
        self.copies.append(db)
        return _pg_url(db)

    def drop_all(self) -> None:
        if not PG_URL:
            return
        gone = self.created + _recycled.give_back(self.copies)
        self.created, self.copies = [], []
        if gone:
            _pg_admin(*(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in gone))


def _pg_url(db: str) -> str:
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{db}"


def _pg_admin(*statements: str) -> None:
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        admin.dispose()


class _Templates:
    """One migrated database per test run and backend, made on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sqlite: Path | None = None
        self._pg: str | None = None

    def sqlite(self) -> Path:
        with self._lock:
            if self._sqlite is None:
                from node.storage.db import make_null_engine
                from node.storage.migrate import upgrade

                folder = Path(tempfile.mkdtemp(prefix="comuna-template-"))
                path = folder / "template.sqlite3"
                engine = make_null_engine(f"sqlite:///{path}")
                upgrade(engine)
                engine.dispose()
                atexit.register(shutil.rmtree, folder, True)
                self._sqlite = path
            return self._sqlite

    def postgresql(self) -> str:
        with self._lock:
            if self._pg is None:
                from node.storage.db import make_null_engine
                from node.storage.migrate import upgrade

                name = f"t_template_{uuid.uuid4().hex[:10]}"
                _pg_admin(f'CREATE DATABASE "{name}"')
                atexit.register(_pg_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                engine = make_null_engine(_pg_url(name))
                upgrade(engine)
                engine.dispose()
                _recycled.learn(name)
                atexit.register(_drop_recycled)
                self._pg = name
            return self._pg


def _drop_recycled() -> None:
    names = _recycled.drain()
    if names:
        _pg_admin(*(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)' for db in names))


_recycled = Recycler(lambda db: _pg_url(db))
_templates = _Templates()


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


@pytest.fixture(scope="session")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The seven-node test federation (tests/fednet.py), built once for the modules
    that use it: the federated matters and the federated economy. They run on the one
    worker that takes every node-process module, one after the other."""
    from tests.fednet import seven_nodes

    yield from seven_nodes(tmp_path_factory, "fed")


_SCHEMAS: dict[tuple[tuple[str, tuple[str, ...]], ...], Any] = {}
# Racing tests send from several threads. schemathesis builds werkzeug route maps, which
# compile code with the ast module, and on CPython 3.11 two threads doing that at once
# raise SystemError. The check is the test's, so it runs one at a time.
_ONE_CHECK_AT_A_TIME = threading.Lock()


def hold_to_openapi(client: TestClient) -> list[str]:
    """Check every JSON API answer the client receives against the schema the node's
    own OpenAPI document gives for that route and status. Returns the routes checked."""
    import schemathesis

    app = client.app
    while not hasattr(app, "openapi"):
        app = app.app  # type: ignore[attr-defined]
    # Making the document and its schema costs about a second; every node of the suite
    # has the same routes, so one schema per route list serves them all.
    key = tuple((getattr(r, "path", ""), tuple(sorted(getattr(r, "methods", None) or ())))
                for r in app.routes)  # type: ignore[attr-defined]
    if key not in _SCHEMAS:
        _SCHEMAS[key] = schemathesis.openapi.from_dict(app.openapi())
    schema = _SCHEMAS[key]
    checked: list[str] = []
    one_at_a_time = _ONE_CHECK_AT_A_TIME

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


# A test module that starts node processes or a browser says so by what it uses.
_STARTS_NODES = re.compile(r"\bNodeProcess\b|\bworker_beside\b|\bsync_playwright\b"
                           r"|from tests\.(fednet|faultproxy|scenarios) import")
# One that makes several node processes talk to each other says so with its marker.
_FEDERATION = re.compile(r"\bpytest\.mark\.federation\b")
_TEXTS: dict[Path, str] = {}


def _text(path: Path) -> str:
    if path not in _TEXTS:
        _TEXTS[path] = path.read_text("utf-8")
    return _TEXTS[path]


def _starts_nodes(path: Path) -> bool:
    return bool(_STARTS_NODES.search(_text(path)))


def _federation(path: Path) -> bool:
    return bool(_FEDERATION.search(_text(path)))


def pytest_itemcollected(item: pytest.Item) -> None:
    """Mark the tests that start node processes or a browser: `-m "not nodes"` runs the
    quick rest."""
    if item.path.name.startswith("test_") and _starts_nodes(item.path):
        item.add_marker(pytest.mark.nodes)


# What gives a test a database of the run's kind: a fixture, or the helpers themselves.
_DATABASE_FIXTURES = {"databases", "make_node", "node", "client", "federation"}
_USES_DATABASES = re.compile(r"\bDatabases\(|\bPG_URL\b|\bbackend\(\)|COMUNA_TEST_PG_URL")
# Set by .ci/run for its PostgreSQL pass, right after the SQLite pass ran everything.
LEAVE_OUT_DATABASE_FREE = os.environ.get("COMUNA_TEST_LEAVE_OUT_DATABASE_FREE") == "1"


def _fixture_sources(item: pytest.Item) -> Iterator[tuple[str, str]]:
    """(name, source) of each fixture function the test uses, wherever it is defined
    (a helper module's fixture may make databases itself, as citypair's `pair` does)."""
    info = getattr(item, "_fixtureinfo", None)
    for name, defs in (info.name2fixturedefs.items() if info is not None else ()):
        for fixture in defs:
            with contextlib.suppress(OSError, TypeError):
                yield name, inspect.getsource(fixture.func)


def _database_free(item: pytest.Item) -> bool:
    """Marked `database_free`, which is refused for a test that can reach the run's
    database: a wrong mark would drop it from the PostgreSQL pass in silence. Checked
    here from what the test and its fixtures name, and again while it runs (Databases
    refuses to make a database for it)."""
    if item.get_closest_marker("database_free") is None:
        return False
    reaches = _DATABASE_FIXTURES & set(getattr(item, "fixturenames", ()))
    reaches |= {name for name, source in _fixture_sources(item)
                if _USES_DATABASES.search(source)}
    if reaches or _USES_DATABASES.search(_text(item.path)):
        raise pytest.UsageError(f"{item.nodeid} is marked database_free but reaches the "
                                f"run's database ({', '.join(sorted(reaches)) or 'helpers'})")
    return True


# The `database_free` test running now, if any (Databases refuses to serve it).
_RUNNING_DATABASE_FREE: list[str] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _RUNNING_DATABASE_FREE[:] = [item.nodeid] if item.get_closest_marker(
        "database_free") else []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first: started early, they overlap with the many short ones. The
    PostgreSQL pass of .ci/run leaves out the tests that are the same on any database."""
    if LEAVE_OUT_DATABASE_FREE:
        left_out = [i for i in items if _database_free(i)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [i for i in items if i not in left_out]
    else:
        for item in items:
            _database_free(item)  # the mark is checked on every run
    items.sort(key=lambda i: 0 if i.get_closest_marker("federation")
               else 1 if i.get_closest_marker("nodes") else 2)


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under pytest-xdist (test.sh runs one worker per core and one more) the modules
    marked `federation` (several node processes talking to each other) are one unit of
    work, run one after another on one worker: two federations on two busy cores at
    once only made both late. Every other module is a unit of its own, taken by
    whichever worker is free, so the workers finish together. (xdist's own `loadgroup`
    cannot do this under pytest 9: it renames test ids through an attribute pytest 9
    ignores.) The units go out in the order pytest_collection_modifyitems gave, long
    ones first: xdist's own order (most tests first) left the browser walks, one test
    each, to the very end."""
    from xdist.scheduler import LoadScopeScheduling

    root = config.rootpath
    config.option.loadscopereorder = False

    class FederationsApart(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "federation" if _federation(root / path) else path

    return FederationsApart(config, log)


# Fixtures defined beside the helpers they use, offered to every module. Imported last:
# they use this module's NODE_URL and ctx_of.
from tests.federated_commune import commune, mandated  # noqa: E402, F401
