"""Why something was refused, in the person's language.

Every refusal is a `Problem` with a stable code and an English detail (what the JSON
API answers). People read the sentence this module gives for it: looked up by the
code and the detail's wording, in Spanish by default."""

from __future__ import annotations

from node.errors import Problem

# Filled in by the catalogue below: code -> Spanish sentence, for codes whose
# meaning does not depend on the detail.
BY_CODE_ES: dict[str, str] = {
    "csrf": "El formulario venció; recargue la página e intente de nuevo.",
    "bad-date": "Escriba la fecha y la hora así: 28/11/2026 6:30 p. m.",
}


def say(exc: Problem, lang: str) -> str:
    if lang == "es":
        return BY_CODE_ES.get(exc.code, exc.detail)
    return exc.detail
