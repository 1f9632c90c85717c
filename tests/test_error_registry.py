"""Every refusal code is registered once (node/errors/codes.py) and raised with its
registered status: read from the source (every Problem, helper, Shortfall and inbox
refusal in node/), and checked again wherever a Problem is made while tests run."""

from __future__ import annotations

import ast
import logging
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from node import errors
from node.api.problems import problem_response
from node.errors import Problem, UnregisteredCode, conflict, forbidden, invalid, not_found
from node.errors import codes as error_codes
from node.errors.catalogue import entries
from node.errors.codes import CODES
from node.federations import mandates
from node.models import Member, Proposal
from tests import problem_sites
from tests.helpers import id_of, stored

sites = cache(problem_sites.sites)
ROOT = Path(__file__).resolve().parent.parent


def test_the_scan_reads_the_status_of_every_kind_of_refusal() -> None:
    found = {(s.code, s.template): s.status for s in sites()}
    # a direct Problem, each of node.errors' helpers, a Shortfall, an inbox Verdict
    assert found[("bad-role", "role must be one of {}")] == 422
    assert found[("not-found", "no such proposal")] == 404
    assert found[("forbidden", "only the author edits a draft")] == 403
    assert found[("last-coordinator", "a body keeps at least one coordinator; "
                                      "name another one first")] == 409
    assert found[("bad-title", "a title of 1 to 300 characters is needed")] == 422
    assert found[("exhausted", "{}")] == 409
    assert found[("no-such-body", "no body here receives this")] is None
    # a helper whose status the caller passes (objects.refused), default and given
    assert found[("malformed", "not a Mandate")] == 422
    assert found[("vote-closed", "this matter is not open for voting")] == 409


def test_every_code_raised_in_node_is_registered_with_the_status_it_is_raised_with(
) -> None:
    wrong = []
    for s in sites():
        known = CODES.get(s.code)
        if known is None:
            wrong.append(f"{s.where}: {s.code!r} is not in node/errors/codes.py")
        elif s.status is None or known.status is None:
            continue  # sent in a Reject (no status), or a code of any status
        elif s.status == problem_sites.UNKNOWN:
            wrong.append(f"{s.where}: the status of {s.code!r} is not a constant here")
        elif s.status != known.status:
            wrong.append(f"{s.where}: {s.code!r} raised with {s.status}, "
                         f"registered with {known.status}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_every_registered_code_is_raised_somewhere_and_has_sentences() -> None:
    raised = {s.code for s in sites()}
    assert sorted(set(CODES) - raised) == [], "registered but raised nowhere in node/"
    said = {e.code for e in entries()}
    assert sorted(set(CODES) - said) == [], "registered without a sentence for people"
    assert sorted(said - set(CODES)) == [], "sentences for a code not registered"


def test_each_meaning_is_one_line_in_each_language() -> None:
    for c in CODES.values():
        assert c.code == c.code.strip().lower() and " " not in c.code, c
        for text in (c.es, c.en):
            assert text.strip() and "\n" not in text and text.endswith("."), c
        assert c.es != c.en, c
        assert c.status is None or 400 <= c.status < 600, c
    assert [c.code for c in CODES.values() if c.status is None] == ["http-error"]


def test_a_renamed_code_is_registered_under_its_new_name_only() -> None:
    renamed = error_codes.RENAMED
    assert all(new in CODES for _, new, _ in renamed)
    # An old name lives on only where it kept part of its meaning; the others are gone
    # (and the scan above fails if anything still raises them).
    kept = {"position-contradicts-decision", "bad-state"}
    assert {old for old, _, _ in renamed} & set(CODES) == kept


def test_the_registry_imports_nothing_of_ours() -> None:
    tree = ast.parse((ROOT / "node" / "errors" / "codes.py").read_text())
    ours = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom | ast.Import)
            and any(name.startswith("node")
                    for name in ([n.module or ""] if isinstance(n, ast.ImportFrom)
                                 else [a.name for a in n.names]))]
    assert ours == []


def test_a_problem_with_an_unregistered_code_fails_where_it_is_made() -> None:
    with pytest.raises(UnregisteredCode, match="not registered"):
        Problem(422, "no-such-code-anywhere", "x")
    with pytest.raises(UnregisteredCode, match="registered with status 404"):
        Problem(400, "not-found", "x")
    with pytest.raises(UnregisteredCode):
        conflict("no-such-code-anywhere", "x")
    with pytest.raises(UnregisteredCode, match="registered with status 422"):
        conflict("bad-title", "x")  # a 409 helper with a 422 code
    # what the JSON API answers without a Problem is checked the same way
    with pytest.raises(UnregisteredCode):
        problem_response(418, "teapot", "short and stout")
    # the registered ones pass, helpers with the statuses they stand for
    assert not_found("proposal").status == 404
    assert forbidden("only members of x may do this").status == 403
    assert invalid("bad-title", "x").status == 422
    assert Problem(418, "http-error", "any status passes through").status == 418


def test_outside_tests_an_unregistered_code_is_logged_once_not_a_500(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(errors, "_strict", lambda: False)
    monkeypatch.setattr(errors, "_warned", set())
    with caplog.at_level(logging.ERROR, logger="node.errors"):
        p = Problem(422, "typo-in-a-code", "x")
        Problem(422, "typo-in-a-code", "y")
    assert p.code == "typo-in-a-code" and p.status == 422
    assert [r.getMessage() for r in caplog.records] == [
        "code 'typo-in-a-code' is not registered in node/errors/codes.py"]


def test_strict_under_pytest_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert errors._strict()
    monkeypatch.delitem(sys.modules, "pytest")
    assert not errors._strict()
    monkeypatch.setattr(errors, "STRICT", True)
    assert errors._strict()


def test_mismatch_names_what_is_wrong() -> None:
    assert error_codes.mismatch(404, "not-found") is None
    assert error_codes.mismatch(409, "unknown-position") == (
        "code 'unknown-position' is registered with status 422, raised with 409")


def test_a_mandate_position_that_does_not_exist_is_not_called_a_contradiction(
        mandated: Any) -> None:
    """It used to answer `position-contradicts-decision` (issue 13)."""
    c = mandated
    [row] = c.rows()
    with Session(c.ctx.engine) as s:
        facil = stored(s, Member, c.ids["facil"])
        proposal = stored(s, Proposal, row.id)
        for position, code in (("banana", "unknown-position"),
                               ("reject", "position-contradicts-decision")):
            with pytest.raises(Problem) as refused:
                mandates.issue(c.ctx.tx(s, facil), proposal, position, [id_of(facil)])
            assert (refused.value.status, refused.value.code) == (422, code), position
        s.rollback()
