"""An assembly as an ActivityStreams `Event`, for Mobilizon, Mastodon and the like.

The fields follow FEP-8a8e ("A common approach to using the Event object type") and
what Mobilizon reads (docs/calendar.md says which and why): `name`, `startTime` and
`endTime` with the zone's offset, `timezone` (IANA), `location` as a `Place` with a
schema.org `PostalAddress`, `eventStatus` (FEP-8a8e) beside `status`/`ical:status`
(Mobilizon), `joinMode: external` (nobody joins through ActivityPub: the assembly is
open to the body's people, who come in person), and `summary`, `url` and `name`,
which is all Mastodon shows of an `Event`. Created when called, updated on every
change, when cancelled and when held (then it carries a link to its record)."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select

from node.activitypub.documents import AS_CONTEXT
from node.activitypub.urls import AS_PUBLIC, Urls
from node.models import Assembly, LocalActor, OutboxItem
from node.models.base import aware
from node.outbox.publish import new_uid
from node.outbox.publish import publish as send
from node.tx import Tx

FEP = "https://w3id.org/fep/8a8e/"
# The terms beyond ActivityStreams, each where FEP-8a8e or Mobilizon defines it.
EVENT_CONTEXT: dict[str, Any] = {
    "sc": "http://schema.org/", "mz": "https://joinmobilizon.org/ns#",
    "pt": "https://joinpeertube.org/ns#", "ical": "http://www.w3.org/2002/12/cal/ical#",
    "timezone": f"{FEP}timezone", "eventStatus": f"{FEP}eventStatus",
    "displayEndTime": f"{FEP}displayEndTime", "category": f"{FEP}category",
    "status": "ical:status", "joinMode": "mz:joinMode",
    "externalParticipationUrl": {"@id": "mz:externalParticipationUrl", "@type": "@id"},
    "isOnline": "mz:isOnline", "repliesModerationOption": "mz:repliesModerationOption",
    "commentsEnabled": "pt:commentsEnabled", "inLanguage": "sc:inLanguage",
    "address": "sc:address", "PostalAddress": "sc:PostalAddress",
    "streetAddress": "sc:streetAddress",
}
# With no end given, calendars need one: FEP-8a8e asks for an end applications may
# use, with `displayEndTime: false` so that people are not shown it.
ASSUMED_LENGTH = timedelta(hours=3)


def ends(a: Assembly) -> datetime:
    return aware(a.ends_at) if a.ends_at is not None else aware(a.starts_at) + ASSUMED_LENGTH


def object_id(urls: Urls, a: Assembly) -> str:
    return urls.obj(f"assembly-{a.id}")


def page_url(urls: Urls, body: LocalActor, a: Assembly) -> str:
    return f"{urls.base}/b/{body.handle}/assemblies/{a.id}"


def record_url(urls: Urls, body: LocalActor, meeting_id: int) -> str:
    """Where people read what the assembly decided."""
    return f"{urls.base}/b/{body.handle}/meetings/{meeting_id}/acta"


def _local(when: datetime, zone: str) -> datetime:
    return aware(when).astimezone(ZoneInfo(zone))


def spoken(when: datetime, zone: str) -> str:
    """28/11/2026 6:30 p. m., as people there write it."""
    t = _local(when, zone)
    hour = t.hour % 12 or 12
    return (f"{t.day:02d}/{t.month:02d}/{t.year} {hour}:{t.minute:02d} "
            f"{'p. m.' if t.hour >= 12 else 'a. m.'}")


def _stamp(when: datetime) -> str:
    return aware(when).strftime("%Y-%m-%dT%H:%M:%SZ")


def _content(urls: Urls, body: LocalActor, a: Assembly,
             titles: list[tuple[int, str]]) -> str:
    parts = [f"<p>{html.escape(p)}</p>" for p in a.description.split("\n\n") if p.strip()]
    if a.state == "cancelled":
        note = f" {html.escape(a.note)}" if a.note else ""
        parts.insert(0, f"<p><strong>Asamblea cancelada.</strong>{note}</p>")
    if titles:
        items = "".join(f'<li><a href="{urls.base}/p/{pid}">{html.escape(t)}</a></li>'
                        for pid, t in titles)
        parts.append(f"<p>Se tratará:</p><ul>{items}</ul>")
    if a.meeting_id is not None:
        parts.append(f'<p><a href="{record_url(urls, body, a.meeting_id)}">'
                     "Acta de la asamblea</a></p>")
    return "".join(parts) or f"<p>{html.escape(a.title)}</p>"


def _summary(a: Assembly) -> str:
    where = f"{a.place}, {a.address}" if a.address else a.place
    line = f"{spoken(a.starts_at, a.timezone)} · {where}"
    if a.state == "cancelled":
        return f"Cancelada — {line}"
    if a.state == "held":
        return f"Realizada — {line}"
    return line


def event(urls: Urls, body: LocalActor, a: Assembly,
          titles: list[tuple[int, str]]) -> dict[str, Any]:
    """The Event as followers receive it and as /objects/assembly-{id} serves it."""
    cancelled = a.state == "cancelled"
    page = page_url(urls, body, a)
    content = _content(urls, body, a, titles)
    doc: dict[str, Any] = {
        "id": object_id(urls, a), "type": "Event", "name": a.title,
        "summary": _summary(a), "content": content, "contentMap": {"es": content},
        "mediaType": "text/html", "inLanguage": "es", "url": page,
        "attributedTo": urls.actor(body.handle),
        "startTime": _local(a.starts_at, a.timezone).isoformat(),
        "endTime": _local(ends(a), a.timezone).isoformat(),
        "timezone": a.timezone,
        "location": {"type": "Place", "name": a.place,
                     "address": {"type": "PostalAddress",
                                 "streetAddress": a.address or a.place}},
        "eventStatus": "EventCancelled" if cancelled else "EventScheduled",
        "status": "CANCELLED" if cancelled else "CONFIRMED",
        "ical:status": "CANCELLED" if cancelled else "CONFIRMED",
        "joinMode": "external", "externalParticipationUrl": page,
        "isOnline": False, "category": "MEETING",
        "repliesModerationOption": "closed", "commentsEnabled": False,
        "published": _stamp(a.created_at), "updated": _stamp(a.updated_at),
        "to": [AS_PUBLIC], "cc": [urls.followers(body.handle)],
    }
    if a.ends_at is None:
        doc["displayEndTime"] = False
    if a.meeting_id is not None:
        doc["attachment"] = [{"type": "Link", "name": "Acta de la asamblea",
                              "mediaType": "text/html",
                              "href": record_url(urls, body, a.meeting_id)}]
    return doc


def publish(tx: Tx, body: LocalActor, a: Assembly, titles: list[tuple[int, str]]) -> None:
    """Send the Event's current state to the body's followers: `Create` the first time,
    `Update` after. A private body publishes nothing."""
    if not body.public:
        return
    urls = tx.urls
    obj = event(urls, body, a, titles)
    seen = tx.session.exec(select(OutboxItem.id).where(
        OutboxItem.object_id == obj["id"])).first() is not None
    activity: dict[str, Any] = {
        "@context": [AS_CONTEXT, EVENT_CONTEXT],
        "id": urls.activity(new_uid()), "type": "Update" if seen else "Create",
        "actor": urls.actor(body.handle),
        # The object carries its terms too: /objects/assembly-{id} serves it alone.
        "object": {"@context": [AS_CONTEXT, EVENT_CONTEXT], **obj},
        "published": _stamp(tx.now()),
        "to": obj["to"], "cc": obj["cc"]}
    send(tx, body, activity)
