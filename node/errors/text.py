"""Why something was refused, in the person's language.

Every refusal is a `Problem` with a stable code and an English detail (what the JSON
API answers by default). People read the sentence the catalogue
(node/errors/catalogue) gives for it: found by the code and the detail's
wording, with the detail's values (a state, a number, a unit) put into the sentence
in the reader's language. tests/test_problem_text.py fails when a refusal raised
anywhere in node/ has no sentence."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from node.errors import Problem
from node.errors.catalogue import Entry, entries
from node.errors.codes import CODES, RENAMED

LANGS = ("es", "en")

# Values a detail carries, as the Spanish sentence says them: what a state graph
# moves, its states and its actions (a state and an action may share a name, "vote"),
# sides, units.
WORDS_ES: dict[str, str] = {
    "proposal": "propuesta", "amendment": "enmienda", "execution": "ejecución",
    "offer": "oferta", "need": "necesidad", "request": "necesidad",
    "kilogram": "kg", "gram": "g", "litre": "litros", "cubicMetre": "m³",
    "metre": "m", "hour": "horas", "one": "unidades", "unit": "unidades",
}
STATES_ES: dict[str, str] = {
    "draft": "borrador", "deliberation": "en deliberación", "vote": "en votación",
    "decided": "decidida", "carried_out": "ejecutada", "evaluated": "evaluada",
    "withdrawn": "retirada", "open": "abierta", "voting": "en votación",
    "counting": "en conteo", "accepted": "aceptada", "rejected": "rechazada",
    "stale": "desactualizada", "in_progress": "en curso", "live": "vigente",
    "recalled": "revocado", "replaced": "reemplazado", "expired": "vencido",
    "proposed": "propuesto", "cancelled": "cancelado", "fulfilled": "cumplido",
    "confirmed": "confirmada", "disputed": "objetada", "exhausted": "agotada",
    "closed": "cerrada", "pending": "pendiente", "refused": "rechazado",
    "adopted": "aprobada", "no_quorum": "sin quórum", "agreed": "acordado",
    "approved": "aprobado", "matched": "emparejada", "partial": "entregado en parte",
    "recorded": "registrada", "lapsed": "vencido", "superseded": "reemplazado",
    "sent": "enviado", "taken": "en manos de la federación", "counted": "contado",
    "scheduled": "convocada", "held": "realizada",
}
ACTIONS_ES: dict[str, str] = {
    "edit": "editar", "withdraw": "retirar", "open_deliberation": "abrir la deliberación",
    "open_vote": "abrir la votación", "close": "cerrar la votación",
    "decide_in_assembly": "decidir en asamblea", "carry_out": "marcar como ejecutada",
    "evaluate": "evaluar", "accept": "aceptar", "reject": "rechazar",
    "count": "contar los votos", "adopt": "aprobar", "refuse": "rechazar",
    "outdate": "marcar como desactualizada", "progress": "marcar en curso",
    "comment": "comentar", "amend": "proponer enmiendas", "vote": "votar",
    "remove": "quitar", "change_role": "cambiar el rol", "reset": "cambiar la contraseña",
    "agree": "acordar", "approve": "aprobar", "call_off": "suspender", "cancel": "cancelar",
    "confirm": "confirmar", "deliver_part": "registrar una entrega", "dispute": "objetar",
    "drop": "retirar", "fill": "completar", "fulfil": "dar por cumplido",
    "reopen": "reabrir", "recall": "revocar", "supersede": "reemplazar",
    "lapse": "dar por vencido", "deliver": "registrar una entrega",
    "send": "enviar a la federación", "take": "pasar a manos de la federación",
    "wait": "esperar a la federación", "clear": "dejar de esperar a la federación",
    "resend": "enviar de nuevo", "recount": "volver a contar", "ask": "pedir el ingreso",
    "change": "cambiar la convocatoria", "hold": "registrar la asamblea",
}
# Where one placeholder says a word differently: the thing a state graph moves (with
# its demonstrative, whose gender the noun decides), a mandate's position, a choice.
BY_NAME_ES: dict[str, dict[str, str]] = {
    "what": {"proposal": "esta propuesta", "amendment": "esta enmienda",
             "execution": "la ejecución", "offer or need": "esta oferta o necesidad",
             "offer": "esta oferta", "need": "esta necesidad",
             "exchange": "este intercambio", "commitment": "este compromiso",
             "delivery": "esta entrega", "joint plan": "este plan conjunto",
             "plan": "este plan", "mandate": "este mandato", "invitation": "esta invitación",
             "escalation": "el envío de este asunto", "mandated vote": "este voto por mandato",
             "federation link": "este vínculo con la federación",
             "assembly": "esta asamblea"},
    "position": {"approve": "«aprobar»", "reject": "«rechazar»", "abstain": "«abstenerse»",
                 "approve_with_amendments": "«aprobar con enmiendas»",
                 "free": "«voto libre»"},
    "positions": {"approve": "«aprobar»", "reject": "«rechazar»",
                  "abstain": "«abstenerse»",
                  "approve_with_amendments": "«aprobar con enmiendas»",
                  "free": "«voto libre»"},
    "state": STATES_ES, "action": ACTIONS_ES, "outcome": STATES_ES,
    "choice": {"for": "a favor", "against": "en contra", "abstain": "abstención",
               "block": "bloqueo"},
}
# A refusal with no sentence (none should exist: the test walks node/) still reads
# in Spanish, by its HTTP status.
BY_STATUS_ES: dict[int, str] = {
    400: "La solicitud no es válida; revise lo que escribió.",
    401: "Para hacer esto tiene que entrar con su usuario.",
    403: "Usted no puede hacer esto aquí.",
    404: "Eso no existe; revise el enlace.",
    409: "Eso ya cambió o no se puede hacer ahora; recargue la página.",
    410: "Eso ya no está disponible.",
    413: "Lo enviado es demasiado grande.",
    422: "Revise lo que escribió: hay un dato que no es válido.",
    429: "Demasiados intentos; espere unos minutos.",
}
SERVER_ES = "Algo falló en el servidor; intente de nuevo en un momento."
# The form field a refusal is about, when the Problem does not name one itself.
FIELDS: dict[str, str] = {
    "bad-title": "title", "bad-text": "text", "weak-password": "password",
    "bad-username": "username", "username-taken": "username", "bad-role": "role",
    "bad-expiry": "days", "bad-kind": "kind", "bad-name": "name", "name-taken": "name",
    "bad-summary": "summary", "bad-date": "held_at", "bad-score": "score",
    "bad-choice": "choice", "block-needs-reason": "reason", "bad-quantity": "quantity",
    "bad-window": "rise_hours", "bad-families": "families", "bad-attendance": "attendance",
    "wrong-password": "current_password", "passwords-differ": "repeat_password",
    "bad-spokesperson": "spokesperson", "bad-mandate": "amendments", "bad-side": "side",
    "bad-slug": "slug", "unknown-unit": "unit", "unknown-kind": "kind",
    "unknown-federation": "federation", "self-join": "federation",
    "too-much": "quantity", "bad-unit": "unit", "bad-label": "name",
    "position-contradicts-decision": "position", "unknown-position": "position",
    "future-assembly": "held_at",
}

_HOLE = re.compile(r"\{([a-z_]*)\}")


@dataclass(frozen=True)
class _Compiled:
    entry: Entry
    pattern: re.Pattern[str] | None


def placeholders(template: str) -> list[str]:
    return _HOLE.findall(template)


def shape(template: str) -> str:
    """The template with its placeholders unnamed: what tests compare with the
    detail templates read from the source."""
    return _HOLE.sub("{}", template)


def _regex(template: str) -> re.Pattern[str]:
    out, at = [], 0
    for m in _HOLE.finditer(template):
        out.append(re.escape(template[at:m.start()]))
        out.append(f"(?P<{m.group(1)}>.+?)" if m.group(1) else "(?:.+?)")
        at = m.end()
    out.append(re.escape(template[at:]))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


@cache
def _table() -> dict[str, list[_Compiled]]:
    """code -> its entries, the most literal templates first and the code-wide one
    (template None) last."""
    table: dict[str, list[_Compiled]] = {}
    for e in entries():
        table.setdefault(e.code, []).append(
            _Compiled(e, _regex(e.template) if e.template is not None else None))
    for rows in table.values():
        rows.sort(key=lambda c: (c.pattern is None,
                                 -len(_HOLE.sub("", c.entry.template or ""))))
    return table


def lookup(code: str, detail: str) -> tuple[Entry, dict[str, str]] | None:
    """The catalogue entry for a refusal and the values its detail carries."""
    for c in _table().get(code, []):
        if c.pattern is None:
            return c.entry, {}
        m = c.pattern.match(detail)
        if m:
            return c.entry, m.groupdict()
    return None


def word(name: str, value: str, lang: str) -> str:
    """A value from an English detail, as the sentence in `lang` says it."""
    if lang != "es":
        return value.replace("_", " ")
    if ", " in value:
        return ", ".join(word(name, v, lang) for v in value.split(", "))
    for table in (BY_NAME_ES.get(name, {}), WORDS_ES, STATES_ES):
        if value in table:
            return table[value]
    return value


def render(entry: Entry, values: dict[str, str], lang: str) -> str:
    text = entry.es if lang == "es" else entry.en
    return _HOLE.sub(lambda m: word(m.group(1), values.get(m.group(1), ""), lang), text)


def sentence(code: str, detail: str, lang: str) -> str | None:
    found = lookup(code, detail)
    return render(found[0], found[1], lang) if found else None


def say(exc: Problem, lang: str) -> str:
    """What a person reads for a refusal: the catalogue's sentence; in Spanish, never
    the English detail (a refusal the catalogue lacks reads by its status)."""
    return say_parts(exc.status, exc.code, exc.detail, lang)


def say_parts(status: int, code: str, detail: str, lang: str) -> str:
    lang = lang if lang in LANGS else "es"
    text = sentence(code, detail, lang)
    if text is not None:
        return text
    if lang == "es":
        return BY_STATUS_ES.get(status, SERVER_ES if status >= 500 else BY_STATUS_ES[400])
    return detail


def field_for(exc: Problem) -> str | None:
    """The form field a refusal is about: the one the Problem names, else the one its
    code is always about."""
    named = exc.extra.get("field")
    if isinstance(named, str) and named:
        return named
    return FIELDS.get(exc.code)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown() -> str:
    """docs/errors.md: every registered code with its status and meaning, then, under
    each, the sentences people read for its details, in both languages."""
    lines = ["# Refusal codes", "",
             "Every refusal of the node (JSON API, pages, inbox) carries a stable `code`, "
             "registered once with its HTTP status in `node/errors/codes.py`; a code the "
             "inbox sends back in a `Reject` (its `summary`) has no HTTP answer and is "
             "listed with the status it would have. The JSON API's `detail` is English "
             "unless the request says `Accept-Language: es`; pages show the sentence "
             "under the code in the reader's language. Generated from "
             "`node/errors/codes.py` and `node/errors/catalogue/` by "
             "`python -m node.errors.text > docs/errors.md`; do not edit by hand.",
             "", "| code | status | meaning (es) | meaning (en) |", "|---|---|---|---|"]
    codes = sorted(CODES.values(), key=lambda c: c.code)
    for c in codes:
        lines.append(_row([f"[`{c.code}`](#{c.code})", str(c.status or "any"), c.es, c.en]))
    lines += ["", "## Renamed codes", "", "Codes that now say what happened; a client "
              "matching the old one should match the new one.", "",
              "| old | new | when |", "|---|---|---|"]
    lines += [_row([f"`{old}`", f"`{new}`", when]) for old, new, when in RENAMED]
    by_code: dict[str, list[Entry]] = {}
    for e in entries():
        by_code.setdefault(e.code, []).append(e)
    lines += ["", "## What people read, by code"]
    for c in codes:
        lines += ["", f"### {c.code}", "", f"Status {c.status or 'any'}. {c.es} / {c.en}", "",
                  "| detail (API, English) | es | en |", "|---|---|---|"]
        for e in sorted(by_code.get(c.code, []), key=lambda e: e.template or ""):
            lines.append(_row([f"`{e.template}`" if e.template is not None else "(any)",
                               e.es, e.en]))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
