"""docs/api.md is enough for a custom client: every route of the JSON API and the admin
API (read from the app itself) has a row in one of its tables and a worked `curl`
example; the page names no route the app does not have; and the allowed values it
lists (vote choices, mandate positions, roles, levels, states...) are the code's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest

from node import events
from node.api.v1 import routes_accounts
from node.api.v1.economy_io import NewIntent
from node.app import create_app
from node.config import Level, Settings
from node.economy import plans
from node.economy.states import (
    CommitmentState,
    EventState,
    ExchangeState,
    IntentState,
    PlanState,
)
from node.federations import objects
from node.federations.levels import Route
from node.federations.mandate_states import MandateState, VoteState
from node.federations.matter_states import Escalation
from node.federations.membership_states import LinkState
from node.governance import bodies, members
from node.governance.proposal_actions import AmendmentState, ExecutionState, ProposalState
from node.governance.statute import QuorumBasis, Rule, Statute, StatuteError
from node.governance.tally import Choice, Outcome
from node.lazyroutes import LazyApp

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# A route named in prose or a table: `POST /api/v1/...`.
NAMED = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^\s`?)]*)")
# The first cell of a table row: | `POST /api/v1/...` |
ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^`\s]*)`\s*\|")
CURL_URL = re.compile(r"(?:\$NODE|https?://[^/\s\"']+)(/api/v1/[^\s\"'?]*)")


def _template(path: str) -> str:
    """The path with its parameters' names left out: the page may name them its way."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/"))


def _pattern(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]*\})", path)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p)
                              for p in parts) + "$")


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """(method, path) of every /api/v1 route, the admin API's included. Building the app
    touches no database; reading its routes loads the lazily included routers."""
    tmp = tmp_path_factory.mktemp("api-docs")
    app: Any = create_app(Settings(data_dir=tmp, database_url=f"sqlite:///{tmp}/n.db"),
                          background=False)
    while not isinstance(app, LazyApp):
        app = app.app
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        entries: Any = app.routes
    else:
        entries = iter_route_contexts(app.routes)
    found = set()
    for route in entries:
        if route.path.startswith("/api/v1/"):
            found |= {(m, route.path) for m in (route.methods or ()) if m in METHODS}
    assert len(found) > 50, "the API's routers were not loaded"
    return found


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def _curl_examples(text: str) -> list[tuple[str, str]]:
    """(method, path) of each `curl` command in the page's code blocks."""
    found = []
    for line in text.splitlines():
        if not line.lstrip().startswith("curl "):
            continue
        method = re.search(r"-X\s+([A-Z]+)", line)
        url = CURL_URL.search(line)
        assert url, f"a curl example without an /api/v1 address: {line}"
        found.append((method.group(1) if method else "GET", url.group(1)))
    return found


def test_every_route_has_a_row(app_routes: set[tuple[str, str]], doc: str) -> None:
    rows = {(m, _template(p)) for line in doc.splitlines() if (r := ROW.match(line))
            for m, p in [r.groups()]}
    missing = sorted(f"{m} {p}" for m, p in app_routes if (m, _template(p)) not in rows)
    assert not missing, f"routes without a row in docs/api.md: {missing}"


def test_the_page_names_only_routes_the_app_has(app_routes: set[tuple[str, str]],
                                                  doc: str) -> None:
    known = {(m, _template(p)) for m, p in app_routes}
    patterns = [(m, _pattern(p)) for m, p in app_routes]

    def exists(method: str, path: str) -> bool:
        # A template (`{proposal_id}`, named its own way) or a path with real ids.
        return (method, _template(path)) in known or any(
            method == rm and rp.match(path) for rm, rp in patterns)

    unknown = sorted({f"{m} {p}" for m, p in NAMED.findall(doc) if not exists(m, p)})
    assert not unknown, f"docs/api.md names routes the app does not have: {unknown}"
    stray = [f"{m} {p}" for m, p in _curl_examples(doc) if not exists(m, p)]
    assert not stray, f"curl examples of routes the app does not have: {stray}"


def test_every_route_has_a_worked_example(app_routes: set[tuple[str, str]], doc: str) -> None:
    examples = _curl_examples(doc)
    without = sorted(f"{m} {p}" for m, p in app_routes
                     if not any(em == m and _pattern(p).match(ep) for em, ep in examples))
    assert not without, f"routes without a curl example in docs/api.md: {without}"


def _values_table(text: str) -> dict[str, set[str]]:
    section = text.split("\n## Values\n", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or cells[0] in ("value", "") or set(cells[0]) <= {"-"}:
            continue
        table[cells[0]] = set(re.findall(r"`([^`]+)`", cells[1]))
    return table


def _literal(annotation: Any) -> set[str]:
    args = get_args(annotation)
    # `Literal[...] | None` holds the Literal one level down.
    if args and all(isinstance(a, str) for a in args):
        return set(args)
    return {v for a in args for v in _literal(a)}


def _code_values() -> dict[str, set[str]]:
    def values(enum: Any) -> set[str]:
        return {str(e) for e in enum}

    return {
        "ballot choice": values(Choice),
        "mandated vote choice": set(objects.CHOICES),
        "mandate position": set(objects.POSITIONS),
        "invitation role": set(members.ROLES),
        "given role": _literal(get_type_hints(routes_accounts.grant_role)["role"]),
        "level": values(Level),
        "body kind": set(bodies.KINDS),
        "proposal state": values(ProposalState),
        "amendment state": values(AmendmentState),
        "decision execution": values(ExecutionState),
        "decision outcome": values(Outcome),
        "statute rule": values(Rule),
        "quorum basis": values(QuorumBasis),
        "federation link state": values(LinkState),
        "escalation": values(Escalation) - {""},  # "" is shown as null
        "deciding route": values(Route),
        "mandate state": values(MandateState),
        "mandated vote state": values(VoteState),
        "pending kind": _literal(routes_accounts.PendingItemOut.model_fields["kind"].annotation),
        "intent side": _literal(NewIntent.model_fields["side"].annotation),
        "intent state": values(IntentState),
        "exchange state": values(ExchangeState),
        "commitment state": values(CommitmentState),
        "delivery state": values(EventState),
        "plan state": values(PlanState),
        "plan input action": set(plans.INPUTS),
        "plan output action": set(plans.OUTPUTS),
        "event kind": set(events.KINDS),
    }


def test_the_listed_values_are_the_codes(doc: str) -> None:
    listed = _values_table(doc)
    code = _code_values()
    for name, expected in code.items():
        assert name in listed, f"docs/api.md lists no values for {name!r}"
        assert listed[name] == expected, (name, sorted(listed[name]), sorted(expected))
    # The statute's admission and weighting are checked strings, not enums: the API's
    # reading of a statute takes every listed value and refuses any other.
    for field in ("admission", "weighting"):
        assert listed[field], field
        for value in listed[field]:
            assert Statute.from_dict({field: value}).to_dict()[field] == value
        with pytest.raises(StatuteError):
            Statute.from_dict({field: "not-" + "-".join(sorted(listed[field]))})
    unknown = set(listed) - set(code) - {"admission", "weighting"}
    assert not unknown, f"values in docs/api.md the test does not check: {sorted(unknown)}"
