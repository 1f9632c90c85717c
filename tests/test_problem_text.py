"""Every refusal the node can raise has a sentence in Spanish and English, and the
Spanish ones speak Spanish."""

from __future__ import annotations

import importlib
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

from node.errors import Problem, conflict, forbidden, invalid, not_found
from node.errors import text as problem_text
from node.errors.catalogue import entries
from node.errors.codes import CODES
from node.errors.text import field_for, lookup, placeholders, say, say_parts, shape
from tests import problem_sites

sites = cache(problem_sites.sites)  # reading node/ once for the whole file


def _made(code: str, detail: str) -> Problem:
    """A refusal with this code, at the status it is registered with."""
    return Problem(CODES[code].status or 400, code, detail)

# Words that betray English left in a Spanish sentence.
ENGLISH = {"the", "only", "must", "cannot", "this", "that", "is", "are", "of", "and",
           "not", "no such", "with", "to", "please", "try", "again", "body", "member",
           "facilitator", "proposal", "voting", "write", "choose", "already", "you"}
# What the catalogue may say in the Spanish sentence although it reads as English.
KEPT = {"Authorization", "Bearer", "TOKEN", "resource", "kg", "g", "m", "m³"}


def _covered(code: str, template: str) -> bool:
    rows = [e for e in entries() if e.code == code]
    if any(e.template is not None and shape(e.template) == template for e in rows):
        return True
    # A helper that fills part of the detail (`_state(GRAPH, "agree", row)`) makes a
    # template the entry's reads as one of its details.
    if template != "{}" and lookup(code, template) is not None \
            and lookup(code, template)[0].template is not None:  # type: ignore[index]
        return True
    # A detail that is only a value (str(exc), a plan's reason) reads by the code.
    return template == "{}" and any(e.template is None for e in rows)


def test_the_scan_finds_refusals_made_every_way() -> None:
    found = {(s.code, s.template) for s in sites()}
    # directly, through node.errors' helpers, through a module's helper, a method
    # helper, a Shortfall, a problem_response and a code chosen by a conditional
    assert ("bad-role", "role must be one of {}") in found
    assert ("not-found", "no such proposal") in found
    assert ("forbidden", "only the author edits a draft") in found
    assert ("malformed", "not an Agreement") in found
    assert ("malformed", "not a Mandate") in found
    assert ("bad-state", "only a draft can be withdrawn") in found
    assert ("exhausted", "{}") in found
    assert ("invalid-request", "the request does not fit the API") in found
    assert ("too-many-key-fetches", "{}") in found and ("key-unavailable", "{}") in found
    assert ("bad-state", "this {} is {}: cannot {}") in found
    # the inbox's refusals: a Verdict, an exception, a helper passing code and reason on
    assert ("no-such-body", "no body here receives this") in found
    assert ("unknown-commitment", "no such commitment here") in found
    assert ("not-a-party", "this commitment concerns no body here") in found
    assert ("not-the-sender", "this activity is taken only from its own actor") in found
    assert not [s for s in sites() if s.code == "?"], "a refusal whose code is not a word"


def test_every_refusal_in_node_has_a_sentence() -> None:
    missing = sorted({f"{s.code}: {s.template!r} ({s.where})" for s in sites()
                      if not _covered(s.code, s.template)})
    assert not missing, "refusals without a sentence in node/errors/catalogue:\n" \
        + "\n".join(missing)


def test_the_catalogue_has_no_entry_twice_and_each_says_something() -> None:
    keys = Counter((e.code, e.template) for e in entries())
    assert [k for k, n in keys.items() if n > 1] == []
    for e in entries():
        assert e.es.strip() and e.en.strip(), e
        assert e.es != e.en, e
        # a sentence uses only values its detail carries
        have = set(placeholders(e.template or ""))
        assert set(placeholders(e.es)) <= have and set(placeholders(e.en)) <= have, e


def _detail(template: str | None) -> str:
    """A detail the template matches, with a value in every place."""
    if template is None:
        return "something unexpected"
    return re.sub(r"\{[a-z_]*\}", "draft", template)


def test_no_english_leaks_into_the_spanish_sentences() -> None:
    leaks = []
    for e in entries():
        text = say(_made(e.code, _detail(e.template)), "es")
        lowered = " " + re.sub(r"[^\w³]+", " ", text.lower()) + " "
        words = [w for w in ENGLISH if f" {w} " in lowered]
        words = [w for w in words if w not in {k.lower() for k in KEPT}]
        if words:
            leaks.append(f"{e.code} {e.template!r}: {words} in {text!r}")
    assert not leaks, "\n".join(leaks)


def test_every_entry_renders_in_both_languages_from_its_own_detail() -> None:
    for e in entries():
        detail = _detail(e.template)
        found = lookup(e.code, detail)
        assert found is not None, e
        for lang in ("es", "en"):
            text = say(_made(e.code, detail), lang)
            assert text and "{" not in text, (e, lang, text)


def test_values_are_put_into_the_sentence_in_the_readers_language() -> None:
    p = Problem(409, "bad-state", "this proposal is draft: cannot open_vote")
    assert say(p, "es") == "No se puede abrir la votación: esta propuesta está «borrador»."
    assert say(p, "en") == "Cannot open vote: this proposal is draft."
    p = Problem(422, "too-much", "only 3 kilogram remain to be delivered")
    assert say(p, "es").startswith("Solo faltan 3 kg por entregar")
    p = Problem(403, "outside-mandate", "a mandate to approve does not allow against")
    assert say(p, "es") == "Un mandato de «aprobar» no permite votar en contra."
    p = Problem(422, "position-contradicts-decision",
                "a decision that was adopted allows a mandate to approve, "
                "approve_with_amendments")
    assert "«aprobar», «aprobar con enmiendas»" in say(p, "es")
    p = Problem(422, "unknown-position", "a mandate's position is one of approve, reject")
    assert say(p, "es") == "Esa posición no existe; elija una de estas: «aprobar», «rechazar»."


def test_one_code_many_situations_reads_by_the_detail() -> None:
    assert say(not_found("proposal"), "es") == "Esa propuesta no existe; revise el enlace."
    assert say(not_found("amendment"), "es") == "Esa enmienda no existe; revise el enlace."
    assert "coordinación" in say(forbidden("only facilitators of maizal may do this"), "es")
    assert "integrantes" in say(forbidden("only members of maizal may do this"), "es")
    # a detail wholly made of a value reads by its code
    assert "reúne" in say(conflict("no-route", "no federation covers every affected "
                                               "body; nobody can decide it"), "es")
    assert say(conflict("no-route", "some new reason"), "es").startswith("No hay a dónde")


def test_spanish_is_never_the_english_detail() -> None:
    # (a code no Problem may carry: see test_error_registry; a remote's could)
    assert say_parts(422, "never-seen", "an English detail", "es") \
        == problem_text.BY_STATUS_ES[422]
    assert say_parts(422, "never-seen", "an English detail", "en") == "an English detail"
    assert say_parts(503, "never-seen", "down", "es").startswith("Algo falló")
    assert say(Problem(422, "bad-title", "a title of 1 to 300 characters is needed"),
               "fr").startswith("Escriba un título")  # an unknown language reads Spanish


def test_field_for_names_the_field_a_refusal_is_about() -> None:
    assert field_for(invalid("bad-title", "a title of 1 to 300 characters is needed")) \
        == "title"
    assert field_for(invalid("weak-password", "x")) == "password"
    assert field_for(invalid("bad-username", "x")) == "username"
    assert field_for(Problem(422, "bad-date", "x", field="closes_at")) == "closes_at"
    assert field_for(invalid("bad-date", "x")) == "held_at"
    assert field_for(Problem(403, "forbidden", "only the author edits a draft")) is None


def test_docs_list_every_code() -> None:
    text = (Path(__file__).resolve().parent.parent / "docs" / "errors.md").read_text()
    assert text == problem_text.markdown(), \
        "docs/errors.md is stale: python -m node.errors.text > docs/errors.md"


def _graphs() -> list[Any]:
    """Every state graph declared in node/ (modules that call Graph(...))."""
    from node.lifecycle import Graph

    root = Path(__file__).resolve().parent.parent
    found = []
    for path in sorted((root / "node").rglob("*.py")):
        if "Graph(" in path.read_text() and path.name != "lifecycle.py":
            module = importlib.import_module(".".join(path.relative_to(root)
                                                      .with_suffix("").parts))
            found += [v for v in vars(module).values() if isinstance(v, Graph)]
    return found


def test_every_state_and_action_of_every_graph_reads_in_spanish() -> None:
    graphs = _graphs()
    assert {g.name for g in graphs} >= {"proposal", "amendment", "mandate"}
    untranslated = []
    for g in graphs:
        for state in g.states:
            for action in g.steps:
                p = Problem(409, "bad-state", f"this {g.name} is {state}: cannot {action}")
                text = say(p, "es")
                # An empty state (a matter never sent up) has no word to leak.
                for value in (g.name, str(state), action):
                    if value and re.search(rf"\b{re.escape(value)}\b", text):
                        untranslated.append(f"{g.name}: {value!r} in {text!r}")
    assert not untranslated, "\n".join(sorted(set(untranslated)))
