"""Times as people in the commune write them: stored in UTC, shown and typed in the
node's zone (`COMUNA_TIMEZONE`), day first and a twelve-hour clock
("28/11/2026 6:30 p. m.")."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import cache
from zoneinfo import ZoneInfo

from node.errors import Problem

# What follows the hour, by language; Venezuelan usage writes "a. m." / "p. m.".
MERIDIEM = {"es": ("a. m.", "p. m."), "en": ("am", "pm")}
EXAMPLE = "28/11/2026 6:30 p. m."


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(value: datetime | str | None, tz: str) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone(tz))


def when(value: datetime | str | None, tz: str, lang: str = "es") -> str:
    """A moment as a person reads it, in the node's zone: 28/11/2026 6:30 p. m."""
    t = local(value, tz)
    if t is None:
        return ""
    am, pm = MERIDIEM.get(lang, MERIDIEM["es"])
    hour = t.hour % 12 or 12
    return f"{t.day:02d}/{t.month:02d}/{t.year} {hour}:{t.minute:02d} {pm if t.hour >= 12 else am}"


def day(value: datetime | date | str | None, tz: str) -> str:
    """Only the day: 28/11/2026."""
    if value is None or value == "":
        return ""
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    t = local(value, tz)
    assert t is not None
    return f"{t.day:02d}/{t.month:02d}/{t.year}"


def field_value(value: datetime | str | None, tz: str) -> str:
    """What a form field shows for a stored moment: the same writing people type
    (24-hour, so it parses back without the meridiem)."""
    t = local(value, tz)
    return "" if t is None else f"{t.day:02d}/{t.month:02d}/{t.year} {t.hour}:{t.minute:02d}"


_TYPED = re.compile(
    r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})"          # 28/11/2026
    r"(?:[\s,]+(\d{1,2})(?:[:.h](\d{2}))?\s*"            # 6:30, 18:30, 6
    r"(a\.?\s*m\.?|p\.?\s*m\.?)?)?\s*$",                 # a. m., pm, p.m.
    re.IGNORECASE)


def parse(text: str, tz: str, field: str = "when") -> datetime:
    """A moment typed in the node's zone, as UTC. Accepts 28/11/2026 6:30 p. m.,
    28/11/2026 18:30, 28/11/2026 (midnight) and ISO 8601 (what a browser's
    datetime-local field sends, and what API clients write)."""
    text = (text or "").strip()
    m = _TYPED.match(text)
    try:
        if m:
            d, mo, y, h, mi, mer = m.groups()
            hour, minute = int(h or 0), int(mi or 0)
            if mer:
                if not 1 <= hour <= 12:
                    raise ValueError
                pm = mer.lower().startswith("p")
                hour = hour % 12 + (12 if pm else 0)
            t = datetime(int(y), int(mo), int(d), hour, minute, tzinfo=zone(tz))
        else:
            t = datetime.fromisoformat(text)
            if t.tzinfo is None:
                t = t.replace(tzinfo=zone(tz))
    except ValueError as exc:
        raise Problem(422, "bad-date", f"write the date and time as {EXAMPLE}",
                      field=field) from exc
    return t.astimezone(UTC)
