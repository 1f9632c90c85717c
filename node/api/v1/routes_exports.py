"""A body's record to take away: `GET /api/v1/bodies/{handle}/exports/{what}.{fmt}`,
CSV for spreadsheets or JSON for programs. What each export holds and who may take
it is node.records.exports; here only the two writings.

CSV is written for the spreadsheets people open it with: UTF-8 with a byte-order
mark (without it Excel reads "Asamblea de Peñas" as mojibake), a header row in the
reader's language, the node's times with their offset, values in words, and any
text cell that a spreadsheet would take for a formula (= + - @, tab, carriage
return) prefixed with an apostrophe, so a proposal titled "=HYPERLINK(...)" stays
text. JSON keeps the codes and numbers as the rest of the API does."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlmodel import Session
from starlette.responses import Response

from node.api.v1.deps import ctx, db, json_with_etag, optional_member
from node.api.v1.outputs import PROBLEMS, Out
from node.governance import bodies
from node.models import Member
from node.records import exports

router = APIRouter(prefix="/api/v1", tags=["exports"])

Cell = str | int | bool | None


class ExportOut(Out):
    body: str = Field(description="the body's handle")
    export: str = Field(description="decisions, votes, participation or ledger")
    timezone: str = Field(description="the node's zone; every time carries its offset")
    columns: list[str]
    items: list[dict[str, Cell]]


RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": ExportOut, "content": {"text/csv": {"schema": {"type": "string"}}},
          "description": "JSON (`.json`) or CSV (`.csv`)"},
    **PROBLEMS,
}

HEADERS = {
    "es": {"decision": "decisión", "proposal": "propuesta", "title": "título",
           "version": "versión", "outcome": "resultado", "method": "forma",
           "decided_at": "decidida el", "rule": "regla", "quorum_basis": "quórum sobre",
           "quorum": "quórum", "secret_ballot": "voto secreto", "for": "a favor",
           "against": "en contra", "abstain": "abstenciones", "block": "bloqueos",
           "participants": "participaron", "electorate_members": "integrantes con voto",
           "electorate_families": "familias con voto", "execution": "ejecución",
           "federated_outcome": "resultado en la federación", "voter": "votante",
           "choice": "voto", "ballots": "votos", "weight": "peso", "reason": "razón",
           "spokesperson": "vocería", "kind": "tipo", "date": "fecha", "meeting": "asamblea",
           "families": "familias que participaron", "present": "presentes",
           "families_present": "familias presentes", "direction": "sentido",
           "partner": "con quién", "partner_uri": "dirección de con quién",
           "kind_uri": "dirección del tipo", "quantity": "cantidad", "unit": "unidad",
           "note": "nota", "delivery": "entrega", "amendment": "enmienda"},
}
# The words for the codes a spreadsheet reader would otherwise see raw.
WORDS = {
    "es": {"adopted": "aprobada", "rejected": "rechazada", "no_quorum": "sin quórum",
           "online": "en línea", "assembly": "asamblea", "mandates": "votos por mandato",
           "majority": "mayoría simple", "qualified": "mayoría calificada",
           "consent": "consenso", "members": "integrantes", "families": "familias",
           "for": "a favor", "against": "en contra", "abstain": "abstención",
           "block": "bloqueo", "decided": "por ejecutar", "in_progress": "en curso",
           "carried_out": "ejecutada", "decision": "decisión", "gave": "dio",
           "received": "recibió", "inside": "dentro del mismo cuerpo", True: "sí",
           False: "no"},
    "en": {"adopted": "adopted", "rejected": "rejected", "no_quorum": "no quorum",
           "online": "online", "assembly": "assembly", "mandates": "mandated votes",
           "majority": "simple majority", "qualified": "qualified majority",
           "consent": "consent", "members": "members", "families": "families",
           "for": "for", "against": "against", "abstain": "abstention", "block": "block",
           "decided": "to carry out", "in_progress": "in progress",
           "carried_out": "carried out", "decision": "decision", "gave": "gave",
           "received": "received", "inside": "inside the same body", True: "yes",
           False: "no"},
}
# Columns holding a code that WORDS names.
WORDED = {"outcome", "method", "rule", "quorum_basis", "choice", "execution", "kind",
          "direction", "secret_ballot", "federated_outcome"}
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: str) -> str:
    """A text cell a spreadsheet will not run as a formula (OWASP's CSV injection)."""
    return "'" + value if value.startswith(FORMULA) else value


def _cell(column: str, value: Any, lang: str) -> Any:
    if value is None:
        return ""
    if column in WORDED and (isinstance(value, bool) or isinstance(value, str)):
        value = WORDS[lang].get(value, value)
    if isinstance(value, bool):
        return WORDS[lang][value]
    return safe_cell(value) if isinstance(value, str) else value


def to_csv(columns: list[str], rows: list[dict[str, Cell]], lang: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = HEADERS.get(lang, {})
    writer.writerow([names.get(c, c.replace("_", " ")) for c in columns])
    for row in rows:
        writer.writerow([_cell(c, row.get(c), lang) for c in columns])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@router.get("/bodies/{handle}/exports/{what}.{fmt}", responses=RESPONSES)
def export(request: Request, handle: str,
           what: Literal["decisions", "votes", "participation", "ledger"],
           fmt: Literal["csv", "json"], lang: Literal["es", "en"] = Query("es"),
           member: Member | None = Depends(optional_member), session: Session = Depends(db)
           ) -> Response:
    """A body's decisions, votes, participation or ledger, as CSV or JSON."""
    return answer(request, session, member, handle, what, fmt, lang)


def answer(request: Request, session: Session, member: Member | None, handle: str,
           what: str, fmt: str, lang: str) -> Response:
    """The export, for the API's bearer of a token or a page's logged-in member alike."""
    body = bodies.body_by_handle(session, handle)
    exports.require_export(session, member, body, what)
    c = ctx(request)
    tz = ZoneInfo(c.settings.timezone)
    rows = [{k: exports.when(v, tz) if isinstance(v, datetime) else v for k, v in r.items()}
            for r in exports.rows_of(session, c.urls, body, what, lang)]
    columns = exports.COLUMNS[what]
    if fmt == "json":
        return json_with_etag(request, {
            "body": body.handle, "export": what, "timezone": c.settings.timezone,
            "columns": columns, "items": rows})
    return Response(to_csv(columns, rows, lang), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="{body.handle}-{what}.csv"',
                             "Cache-Control": "private, no-cache",
                             "X-Content-Type-Options": "nosniff"})
