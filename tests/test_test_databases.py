"""The suite's own databases: a database handed to a test holds exactly what the
migrated template holds, whether it was copied or (on PostgreSQL) emptied after an
earlier test and used again (tests/pgrecycle.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from node.cli.main import main as cli
from node.config import write_config_file
from node.models import Member
from tests.conftest import Databases, backend
from tests.dbdigest import table_digests


def _engine(url: str) -> Engine:
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _new_member_id(engine: Engine) -> int:
    with Session(engine) as s:
        member = Member(username="x", display_name="X", password_hash="h")
        s.add(member)
        s.commit()
        assert member.id is not None
        return member.id


def test_a_used_database_comes_back_as_the_template_was(tmp_path: Path) -> None:
    first = Databases(tmp_path)
    url = first.new("maizal")
    engine = _engine(url)
    pristine = table_digests(engine)
    try:
        first_id = _new_member_id(engine)
        # A test's life: a node made on it, rows in many tables, sequences moved on.
        data = tmp_path / "node"
        data.mkdir()
        write_config_file(data, {"database_url": url})
        assert cli(["init", "--data-dir", str(data), "--url", "http://maizal.test",
                    "--handle", "maizal", "--name", "Maizal", "--level", "commune"]) == 0
        assert table_digests(engine) != pristine
    finally:
        engine.dispose()
        first.drop_all()
    again = Databases(tmp_path)
    url_again = again.new("maizal")
    engine = _engine(url_again)
    try:
        if backend() == "postgresql":
            assert url_again == url, "the emptied database was not handed out again"
        assert table_digests(engine) == pristine
        assert _new_member_id(engine) == first_id  # its sequences start over too
    finally:
        engine.dispose()
        again.drop_all()


class _Def:
    def __init__(self, func: Callable[..., object]) -> None:
        self.func = func


class _Info:
    def __init__(self, defs: dict[str, list[_Def]]) -> None:
        self.name2fixturedefs = defs


def _plain_fixture(tmp: Path) -> Path:
    return tmp / "nothing"


def _pair_like(tmp: Path) -> str:
    """A helper module's fixture that makes its databases itself (never called)."""
    return Databases(tmp).new("x")


class _Item:
    """Just what the `database_free` check reads of a collected test."""

    def __init__(self, path: Path, fixtures: list[str], marked: bool = True,
                 defs: dict[str, list[_Def]] | None = None) -> None:
        self.path, self.fixturenames, self.nodeid = path, fixtures, f"{path.name}::t"
        self.marked = marked
        self._fixtureinfo = _Info(defs or {})

    def get_closest_marker(self, name: str) -> object | None:
        return object() if self.marked and name == "database_free" else None


def test_a_test_that_reaches_the_runs_database_cannot_be_marked_database_free(
        tmp_path: Path) -> None:
    """The PostgreSQL pass leaves `database_free` tests out: a wrong mark would drop a
    test from it in silence, so the mark is refused where the database is in reach."""
    import pytest

    from tests.conftest import _database_free

    plain = tmp_path / "test_plain.py"
    plain.write_text("def test_x() -> None:\n    assert sum([1, 2]) == 3\n")
    helper = tmp_path / "test_helper.py"
    helper.write_text("from tests.conftest import Databases\nDatabases(None)\n")
    assert _database_free(_Item(plain, ["tmp_path"]))  # type: ignore[arg-type]
    assert not _database_free(_Item(plain, ["node"], marked=False))  # type: ignore[arg-type]
    own = _Item(plain, ["own"], defs={"own": [_Def(_plain_fixture)]})
    assert _database_free(own)  # type: ignore[arg-type]
    for item in (_Item(plain, ["tmp_path", "make_node"]), _Item(plain, ["client"]),
                 _Item(helper, ["tmp_path"]),
                 _Item(plain, ["pair"], defs={"pair": [_Def(_pair_like)]})):
        with pytest.raises(pytest.UsageError, match="marked database_free"):
            _database_free(item)  # type: ignore[arg-type]


def test_a_database_free_test_is_refused_a_database_while_it_runs(tmp_path: Path) -> None:
    """The second line of defence: whatever the marks say, Databases serves no
    database to a `database_free` test."""
    import pytest

    from tests import conftest

    conftest._RUNNING_DATABASE_FREE[:] = ["test_x.py::t"]
    try:
        with pytest.raises(pytest.UsageError, match="asked for a database"):
            Databases(tmp_path).new("x")
    finally:
        conftest._RUNNING_DATABASE_FREE.clear()
