"""The packages of node/ import one way: no cycle between them, and the domain never
reaches up into the HTTP layer. Read from the source (every import, lazy ones inside
functions too), so a newcomer's shortcut fails here rather than in review."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import TypeGuard

NODE = Path(__file__).resolve().parent.parent / "node"
HTTP = {"api", "web", "cli", "app", "lazyroutes"}
DOMAIN = {"governance", "federations", "economy", "projects", "pending", "records", "events"}


def _unit(path: Path) -> str:
    """The package (or top-level module) a file belongs to: node/<unit>/... or node/<unit>.py."""
    parts = path.relative_to(NODE).parts
    return parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")


def _edges() -> dict[str, dict[str, list[str]]]:
    edges: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in sorted(NODE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        here = _unit(path)
        for n in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(n, ast.ImportFrom | ast.Import):
                continue
            targets: list[str] = []
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                if n.module == "node":
                    targets = [a.name for a in n.names]
                elif n.module.startswith("node."):
                    targets = [n.module.split(".")[1]]
            elif isinstance(n, ast.Import):
                targets = [a.name.split(".")[1] for a in n.names if a.name.startswith("node.")]
            for t in targets:
                if t != here:
                    edges[here][t].append(f"{path.relative_to(NODE.parent)}:{n.lineno}")
    return edges


def _cycles(edges: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected components with more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_the_packages_of_node() -> None:
    edges = _edges()
    cycles = _cycles(edges)
    detail = [f"{a} -> {b}: {edges[a][b][:3]}" for c in cycles for a in c for b in c
              if b in edges.get(a, {})]
    assert cycles == [], "\n".join(detail)


def test_the_domain_does_not_reach_into_the_http_layer() -> None:
    edges = _edges()
    wrong = [f"{a} -> {b}: {edges[a][b][:3]}" for a in DOMAIN for b in HTTP
             if b in edges.get(a, {})]
    assert wrong == []


def test_the_check_sees_a_cycle_when_there_is_one() -> None:
    made = {"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}, "d": {"a": ["w"]}}
    assert _cycles(made) == [["a", "b", "c"]]


INBOX_HANDLERS = ("matters.py", "economic.py", "projectbank.py")


def _imports_processor(n: ast.AST) -> TypeGuard[ast.ImportFrom | ast.Import]:
    if isinstance(n, ast.ImportFrom):
        return n.module == "node.inbox.processor" or (
            n.module == "node.inbox" and any(a.name == "processor" for a in n.names))
    return isinstance(n, ast.Import) and any(a.name == "node.inbox.processor" for a in n.names)


def test_inbox_handlers_get_their_dependencies_not_the_processor() -> None:
    """They get node/inbox/deps.HandlerDeps (the context and a transaction runner)."""
    wrong = [f"{name}:{n.lineno}" for name in INBOX_HANDLERS
             for n in ast.walk(ast.parse((NODE / "inbox" / name).read_text("utf-8")))
             if _imports_processor(n)]
    assert wrong == []
