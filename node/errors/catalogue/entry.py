"""One line of the catalogue."""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    code: str
    template: str | None  # the English detail, `{name}` for a value; None: any detail
    es: str
    en: str
