"""Whole numbers typed into forms. `str.isdigit()` is also true of "²" and other
digits `int()` refuses, and a number past the database's integers fails there: a
form field is a number only if it is ASCII digits within a row id's range."""

from __future__ import annotations

from node.models.base import MAX_ID


def whole(raw: str) -> int | None:
    """The number in `raw` (spaces around allowed), or None if it is not one."""
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        return None
    return int(raw)
