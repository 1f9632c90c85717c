"""Assemblies called ahead: list, call, change, cancel (rows in docs/api.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from sqlmodel import Session
from starlette.responses import Response

from node.api.ids import RowId
from node.api.v1.assemblies_io import AssemblyCancel, AssemblyChange, AssemblyOut, NewAssembly
from node.api.v1.deps import ctx, db, json_with_etag, member_tx, optional_member
from node.api.v1.outputs import Items, ok
from node.api.v1.schemas import defaults
from node.governance import assemblies, assembly_event, bodies
from node.governance.assemblies import Plan
from node.governance.authz import require_read
from node.models import Assembly, LocalActor, Member
from node.models.base import aware
from node.tx import Tx

router = APIRouter(prefix="/api/v1", tags=["assemblies"])


def view(request: Request, s: Session, member: Member | None, b: LocalActor,
         a: Assembly) -> dict[str, Any]:
    urls = ctx(request).urls
    return {"id": a.id, "body": b.handle, "state": a.state, "title": a.title,
            "description": a.description, "starts_at": aware(a.starts_at).isoformat(),
            "ends_at": aware(a.ends_at).isoformat() if a.ends_at is not None else None,
            "timezone": a.timezone, "place": a.place, "address": a.address,
            "agenda": [{"proposal": pid, "title": t}
                       for pid, t in assemblies.agenda_titles(s, a)],
            "sequence": a.sequence, "note": a.note, "meeting": a.meeting_id,
            "event": assembly_event.object_id(urls, a),
            "url": assembly_event.page_url(urls, b, a),
            "actions": assemblies.available_actions(s, member, a, ctx(request).clock.now())}


def _zoned(request: Request, when: datetime | None) -> datetime | None:
    # A time written without an offset is the node's, as on the pages.
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=ZoneInfo(ctx(request).settings.timezone))


@router.get("/bodies/{handle}/assemblies", responses=ok(Items[AssemblyOut]))
def list_assemblies(request: Request, handle: str,
                    member: Member | None = Depends(optional_member),
                    session: Session = Depends(db)) -> Response:
    """Called assemblies not yet over, soonest first."""
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    rows = assemblies.upcoming(session, b, ctx(request).clock.now(), limit=100)
    return json_with_etag(request, {"items": [view(request, session, member, b, a)
                                              for a in rows]})


@router.get("/bodies/{handle}/assemblies/{assembly_id}", responses=ok(AssemblyOut))
def get_assembly(request: Request, handle: str, assembly_id: RowId,
                 member: Member | None = Depends(optional_member),
                 session: Session = Depends(db)) -> Response:
    b = bodies.body_by_handle(session, handle)
    require_read(session, member, b)
    a = assemblies.by_id(session, b, assembly_id)
    return json_with_etag(request, view(request, session, member, b, a))


@router.post("/bodies/{handle}/assemblies", status_code=201, responses=ok(AssemblyOut, 201))
def schedule(request: Request, handle: str, body: NewAssembly,
             tx: Tx = Depends(member_tx)) -> Response:
    """A facilitator calls an assembly; followers receive a `Create(Event)`."""
    b = bodies.body_by_handle(tx.session, handle)
    starts = _zoned(request, body.starts_at)
    assert starts is not None
    plan = Plan(starts_at=starts, ends_at=_zoned(request, body.ends_at), place=body.place,
                address=body.address, title=body.title, description=body.description,
                agenda=tuple(body.agenda))
    a = assemblies.schedule(tx, b, plan, ctx(request).settings.timezone)
    tx.commit()
    return json_with_etag(request, view(request, tx.session, tx.member, b, a), 201)


@router.patch("/bodies/{handle}/assemblies/{assembly_id}", responses=ok(AssemblyOut))
def change(request: Request, handle: str, assembly_id: RowId,
           body: AssemblyChange = defaults(AssemblyChange),
           tx: Tx = Depends(member_tx)) -> Response:
    """A new time, place or agenda; followers receive an `Update(Event)`."""
    b = bodies.body_by_handle(tx.session, handle)
    a = assemblies.by_id(tx.session, b, assembly_id)
    sent = body.model_fields_set
    starts = _zoned(request, body.starts_at) or aware(a.starts_at)
    ends = _zoned(request, body.ends_at) if "ends_at" in sent else a.ends_at
    plan = Plan(starts_at=starts, ends_at=ends,
                place=body.place if body.place is not None else a.place,
                address=body.address if body.address is not None else a.address,
                title=body.title if body.title is not None else a.title,
                description=body.description if body.description is not None
                else a.description,
                agenda=tuple(body.agenda) if body.agenda is not None
                else tuple(assemblies.agenda_ids(a)))
    assemblies.change(tx, a, plan)
    tx.commit()
    return json_with_etag(request, view(request, tx.session, tx.member, b, a))


@router.post("/bodies/{handle}/assemblies/{assembly_id}/cancel", responses=ok(AssemblyOut))
def cancel(request: Request, handle: str, assembly_id: RowId,
           body: AssemblyCancel = defaults(AssemblyCancel),
           tx: Tx = Depends(member_tx)) -> Response:
    """Called off: calendars mark it cancelled; followers receive an `Update(Event)`."""
    b = bodies.body_by_handle(tx.session, handle)
    a = assemblies.by_id(tx.session, b, assembly_id)
    assemblies.cancel(tx, a, body.note)
    tx.commit()
    return json_with_etag(request, view(request, tx.session, tx.member, b, a))
