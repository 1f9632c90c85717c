"""A body's assemblies as an iCalendar feed (RFC 5545), which phone calendars
subscribe to, made with the `icalendar` library.

Each assembly is one VEVENT whose UID never changes (`assembly-{id}@{host}`), so a
calendar updates the entry it has instead of adding another; SEQUENCE grows with
every change, STATUS says CONFIRMED or CANCELLED (a calendar removes or strikes out
what was called off), and the times carry the TZID of the zone the assembly was
called in, with its VTIMEZONE, so the hour stays the one people were told. The feed
has no METHOD, so DTSTAMP is when the entry last changed (RFC 5545 §3.8.7.2): the
same feed twice is the same bytes, and its ETag says so."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import icalendar

from node.activitypub.urls import Urls
from node.governance.assembly_event import page_url, record_url
from node.models import Assembly, LocalActor
from node.models.base import aware

PRODID = "-//Comuna//Asambleas//ES"
# RFC 5545 §3.3.11: TEXT holds no control characters but HTAB (line breaks are
# escaped by the library). One of them (a pasted escape code) can make a phone's
# calendar refuse the whole feed, so they are dropped here.
_CONTROLS = dict.fromkeys([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _text(value: str) -> str:
    return value.translate(_CONTROLS)


def uid(urls: Urls, a: Assembly) -> str:
    return f"assembly-{a.id}@{urlsplit(urls.base).hostname}"


def _at(when: datetime, zone: str) -> datetime:
    return aware(when).astimezone(ZoneInfo(zone))


def _description(urls: Urls, body: LocalActor, a: Assembly,
                 titles: list[tuple[int, str]]) -> str:
    lines = [a.description] if a.description else []
    if a.state == "cancelled":
        lines.insert(0, f"Asamblea cancelada. {a.note}".strip())
    if titles:
        lines.append("Orden del día:\n" + "\n".join(f"- {t}" for _, t in titles))
    if a.meeting_id is not None:
        lines.append(f"Acta: {record_url(urls, body, a.meeting_id)}")
    lines.append(page_url(urls, body, a))
    return "\n\n".join(lines)


def feed(urls: Urls, body: LocalActor, zone: str,
         rows: list[tuple[Assembly, list[tuple[int, str]]]]) -> bytes:
    """The calendar of `body`: its assemblies with their agendas' titles."""
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("name", _text(f"Asambleas · {body.name}"))
    cal.add("x-wr-calname", _text(f"Asambleas · {body.name}"))
    cal.add("x-wr-timezone", zone)
    for a, titles in rows:
        ev = icalendar.Event()
        ev.add("uid", uid(urls, a))
        ev.add("dtstamp", aware(a.updated_at))
        ev.add("created", aware(a.created_at))
        ev.add("last-modified", aware(a.updated_at))
        ev.add("sequence", a.sequence)
        ev.add("dtstart", _at(a.starts_at, a.timezone))
        if a.ends_at is not None:
            ev.add("dtend", _at(a.ends_at, a.timezone))
        ev.add("summary", _text(a.title))
        ev.add("location", _text(f"{a.place}, {a.address}" if a.address else a.place))
        ev.add("description", _text(_description(urls, body, a, titles)))
        ev.add("url", page_url(urls, body, a))
        ev.add("status", "CANCELLED" if a.state == "cancelled" else "CONFIRMED")
        cal.add_component(ev)
    cal.add_missing_timezones()
    data: bytes = cal.to_ical()
    return data
