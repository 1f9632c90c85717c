"""Every place in node/ that makes a refusal (a `Problem`, directly or through a helper
such as `not_found` or `wire.bad`, or a `problem_response`), with its code and the
template of its detail, read from the source with `ast` (nothing is imported).

A detail written as an f-string becomes a template with `{}` where a value goes; a
detail that is only a value (`str(exc)`) is the template "{}". The HTTP status is read
the same way (a constant, or a helper's constant, or what the caller passed the
helper); a refusal the inbox sends back in a `Reject` has none (status None), and a
status that is no constant is -1 (tests/test_error_registry.py fails on it)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NODE = Path(__file__).resolve().parent.parent / "node"
# What makes a refusal, and where its code and detail are among the arguments. A
# Verdict (node/inbox/authority.py) is the inbox's refusal: its reason goes back to
# the sender in a Reject, and a spokesperson reads it on the mandate it refused.
DIRECT: dict[str, tuple[int, int]] = {
    "Problem": (1, 2), "problem_response": (1, 2), "Shortfall": (0, 1),
    "_Refused": (0, 1), "Verdict": (2, 3)}
HOLE = "{}"
# Where the status is among a direct construction's arguments; a Shortfall is always a
# 409; a Verdict and _Refused are answered in a Reject, with no HTTP status.
STATUS_AT: dict[str, int] = {"Problem": 0, "problem_response": 0}
FIXED_STATUS: dict[str, int | None] = {"Shortfall": 409, "_Refused": None, "Verdict": None}
UNKNOWN = -1


@dataclass(frozen=True)
class Site:
    where: str  # path:line
    code: str
    template: str
    status: int | None = UNKNOWN


@dataclass(frozen=True)
class Helper:
    """A function that builds a Problem from its arguments: which parameter (or
    constant) is the code and how the detail is made of its parameters."""
    module: str
    name: str
    params: tuple[str, ...]
    defaults: dict[str, Any]
    code: ast.expr
    detail: ast.expr
    status: int | ast.expr | None  # fixed (a constant), or what to read at each caller
    made_at: int  # id() of the construction inside it (not a site: its callers are)


def _module_name(path: Path) -> str:
    rel = path.relative_to(NODE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
    return ".".join(parts)


def _problem_args(call: ast.Call) -> tuple[ast.expr | None, ast.expr | None]:
    """The code and detail expressions of a direct construction."""
    at_code, at_detail = DIRECT[_called(call)]
    args = list(call.args)
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    code = args[at_code] if len(args) > at_code else kw.get("code")
    detail = args[at_detail] if len(args) > at_detail else kw.get("detail", kw.get("reason"))
    return code, detail


def _status_arg(call: ast.Call) -> int | ast.expr | None:
    """The status of a direct construction: fixed by what is made, or an expression."""
    name = _called(call)
    if name in FIXED_STATUS:
        return FIXED_STATUS[name]
    at = STATUS_AT[name]
    kw = {k.arg: k.value for k in call.keywords if k.arg}
    return call.args[at] if len(call.args) > at else kw.get("status", ast.Constant(UNKNOWN))


def _status(value: int | ast.expr | None, env: dict[str, ast.expr]) -> int | None:
    """The HTTP status a refusal answers with: a constant, or a helper's parameter
    given a constant by the caller; UNKNOWN when the source does not say."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, ast.Name) and value.id in env:
        return _status(env[value.id], {})
    if isinstance(value, ast.Constant) and isinstance(value.value, int):
        return value.value
    return UNKNOWN


def _called(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return ""


def _template(expr: ast.expr | None, env: dict[str, ast.expr]) -> str:
    """The detail's text with a hole for every value; parameters of a helper are
    replaced by what the caller passed (`env`)."""
    if expr is None:
        return HOLE
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    if isinstance(expr, ast.JoinedStr):
        out = []
        for part in expr.values:
            if isinstance(part, ast.Constant):
                out.append(str(part.value))
            elif isinstance(part, ast.FormattedValue):
                inner = part.value
                if isinstance(inner, ast.Name) and inner.id in env:
                    out.append(_template(env[inner.id], {}))
                else:
                    out.append(HOLE)
        return "".join(out)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _template(expr.left, env) + _template(expr.right, env)
    if isinstance(expr, ast.Name) and expr.id in env:
        return _template(env[expr.id], {})
    return HOLE


def _codes(expr: ast.expr | None, env: dict[str, ast.expr],
           assigned: dict[str, ast.expr]) -> list[str]:
    """The code(s) an expression can be: a constant, a helper's parameter, or a
    local variable assigned from constants (`a if x else b`)."""
    if expr is None:
        return []
    if isinstance(expr, ast.Name) and expr.id in env:
        return _codes(env[expr.id], {}, assigned)
    if isinstance(expr, ast.Name) and expr.id in assigned:
        return _codes(assigned[expr.id], {}, {})
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    # `a if x else b`, `{404: "not-found"}.get(status, "http-error")`: any of them
    found = [n.value for n in ast.walk(expr)
             if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return found or ["?"]


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _enclosing(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.AST | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    return None


def _assignments(fn: ast.AST | None) -> dict[str, ast.expr]:
    out: dict[str, ast.expr] = {}
    if fn is None:
        return out
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _parse_all() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(), str(p)) for p in sorted(NODE.rglob("*.py"))}


def _helpers(trees: dict[Path, ast.Module]) -> dict[tuple[str, str], Helper]:
    """Top-level functions whose Problem takes its code or detail from a parameter."""
    found = {}
    for path, tree in trees.items():
        in_class = {id(f) for c in ast.walk(tree) if isinstance(c, ast.ClassDef)
                    for f in c.body if isinstance(f, ast.FunctionDef)}
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef):
                continue
            is_method = id(fn) in in_class
            params = tuple(a.arg for a in fn.args.args)[1 if is_method else 0:]
            defaults = {a.arg: d.value for a, d in zip(fn.args.args[len(fn.args.args)
                                                                   - len(fn.args.defaults):],
                                                       fn.args.defaults, strict=True)
                        if isinstance(d, ast.Constant)}
            for call, bare in _made_in(fn):
                code, detail = _problem_args(call)
                # `p.code` (a Problem passed in, as from_problem does) is no
                # parameter becoming a code: only bare names count.
                under = {id(a.value) for e in (code, detail) if e is not None
                         for a in ast.walk(e) if isinstance(a, ast.Attribute)}
                names = {n.id for e in (code, detail) if e is not None
                         for n in ast.walk(e)
                         if isinstance(n, ast.Name) and id(n) not in under}
                passed = isinstance(code, ast.Name) and code.id in params \
                    and isinstance(detail, ast.Name) and detail.id in params
                if (names & set(params)) if not bare else passed:
                    # a method is called on any object: known by its name alone
                    home = "." if is_method else _module_name(path)
                    found[(home, fn.name)] = Helper(
                        _module_name(path), fn.name, params, defaults,
                        code or ast.Constant(""), detail or ast.Constant(""),
                        _status_arg(call), id(call))
    return found


def _made_in(fn: ast.FunctionDef) -> list[tuple[ast.Call, bool]]:
    """Refusals a function makes: handed back (`return`, a helper when they use its
    parameters), or raised (a helper only when code and detail are passed through
    as they came, as `_need(bodies, code, reason)` does; Graph.move, which raises
    with its own words, is a site)."""
    out = []
    for node in ast.walk(fn):
        value = node.value if isinstance(node, ast.Return) else \
            node.exc if isinstance(node, ast.Raise) else None
        if isinstance(value, ast.Call) and _called(value) in DIRECT:
            out.append((value, isinstance(node, ast.Raise)))
    return out


def _imports(tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """name -> module it was imported from; alias -> module imported as that alias."""
    names: dict[str, str] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                names[a.asname or a.name] = node.module
                modules[a.asname or a.name] = f"{node.module}.{a.name}"
        elif isinstance(node, ast.Import):
            for a in node.names:
                modules[a.asname or a.name.split(".")[-1]] = a.name
    return names, modules


def _helper_for(call: ast.Call, module: str, tree: ast.Module,
                helpers: dict[tuple[str, str], Helper], local_defs: set[str]
                ) -> Helper | None:
    if not any(h.name == _called(call) for h in helpers.values()):
        return None
    names, modules = _imports(tree)
    f = call.func
    if isinstance(f, ast.Name):
        if f.id in local_defs:  # defined in this module (maybe nested): that one
            return helpers.get((module, f.id))
        return helpers.get((names.get(f.id, module), f.id))
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) \
            and f.value.id in modules:
        return helpers.get((modules[f.value.id], f.attr))
    if isinstance(f, ast.Attribute):
        return helpers.get((".", f.attr))
    return None


def _again(code: ast.expr | None) -> bool:
    """`exc.code`: a refusal made elsewhere, passed on (from_problem, a re-raise)."""
    return isinstance(code, ast.Attribute) and code.attr == "code"


def sites() -> list[Site]:
    trees = _parse_all()
    helpers = _helpers(trees)
    inside = {h.made_at for h in helpers.values()}
    out: list[Site] = []
    for path, tree in trees.items():
        module = _module_name(path)
        nested = {fn.name for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef)}
        parents: dict[ast.AST, ast.AST] | None = None
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or id(call) in inside:
                continue  # a helper's own construction: its callers are the sites
            direct = _called(call) in DIRECT
            helper = None if direct else _helper_for(call, module, tree, helpers, nested)
            if not direct and helper is None:
                continue
            parents = parents or _parents(tree)
            assigned = _assignments(_enclosing(call, parents))
            where = f"{path.relative_to(NODE.parent)}:{call.lineno}"
            if helper is None:
                code, detail = _problem_args(call)
                if code is None or _again(code):
                    continue  # no refusal (Verdict(kind)), or one answered again
                status = _status(_status_arg(call), {})
                out.extend(Site(where, c, _template(detail, {}), status)
                           for c in _codes(code, {}, assigned))
                continue
            env: dict[str, ast.expr] = {k: ast.Constant(v) for k, v in helper.defaults.items()}
            env.update(dict(zip(helper.params, call.args, strict=False)))
            env.update({k.arg: k.value for k in call.keywords if k.arg})
            if isinstance(helper.code, ast.Name) and _again(env.get(helper.code.id)):
                continue
            status = _status(helper.status, env)
            out.extend(Site(where, c, _template(helper.detail, env), status)
                       for c in _codes(helper.code, env, assigned))
    return out


if __name__ == "__main__":
    for s in sites():
        print(f"{s.code}\t{s.status}\t{s.template}\t{s.where}")
