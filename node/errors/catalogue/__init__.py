"""The sentences people read for each refusal, in Spanish and English.

Each entry is a code and the template of the English detail it answers (`{name}`
where the detail has a value; None: every detail of that code), with the sentence in
each language. The sentences say why and what to do, in the glossary's words; a
value in the detail is put in the sentence translated (node.errors.text).
Split by area so no file grows too long."""

from __future__ import annotations

from node.errors.catalogue import calendar, economy, federation, governance, protocol
from node.errors.catalogue.entry import Entry

__all__ = ["Entry", "entries"]


def entries() -> list[Entry]:
    return [*governance.ENTRIES, *calendar.ENTRIES, *economy.ENTRIES, *federation.ENTRIES,
            *protocol.ENTRIES]
