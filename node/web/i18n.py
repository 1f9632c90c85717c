"""Translations for the web pages. Templates are written in Spanish (the default);
other languages come from gettext catalogs in `locale/<lang>/LC_MESSAGES/*.po` (one
file per area of the pages, read together)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"es": "Español", "en": "English"}
DEFAULT = "es"


@cache
def catalog(lang: str) -> dict[str, str]:
    paths = sorted((LOCALE_DIR / lang / "LC_MESSAGES").glob("*.po"))
    if not paths:
        return {}
    # Imported here: most visitors read Spanish, and a node on a small machine
    # should not carry the catalogue reader in memory for nothing.
    from babel.messages.pofile import read_po

    table: dict[str, str] = {}
    for path in paths:
        with path.open("rb") as f:
            po = read_po(f, locale=lang)
        table.update({str(m.id): str(m.string) for m in po
                      if m.id and m.string and not m.fuzzy})
    return table


def translator(lang: str) -> Callable[[str], str]:
    table = catalog(lang) if lang != DEFAULT else {}

    def _(text: str) -> str:
        return table.get(text, text)

    return _


def pick(member_lang: str | None, cookie: str | None) -> str:
    for lang in (member_lang, cookie):
        if lang in LANGUAGES:
            return lang
    return DEFAULT
