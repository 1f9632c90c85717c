"""What the next page tells a browser after a form (post, redirect, get): "Voto
registrado", or why the form was refused, with what was typed so the fields are
filled again. The browser keeps a random key in a short cookie; the notice itself is
a row (another process may serve the next page) read once and deleted."""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.models import WebNotice
from node.models.base import utcnow

COOKIE = "comuna_notice"
# A notice nobody came back for (the browser closed) is dropped after this long.
LIFETIME = timedelta(minutes=10)
# Form values longer than this are not kept (a pasted book is not worth a row).
MAX_KEPT = 64 * 1024
# No form has more fields than this.
MAX_FIELDS = 100


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def leave(s: Session, request: Request, response: Response, payload: dict[str, Any]) -> None:
    """Store a notice for this browser's next page (committed by the caller)."""
    raw = secrets.token_urlsafe(18)
    form = payload.get("form")
    if isinstance(form, dict):
        # Never a password, not even for ten minutes.
        kept = {k: v for k, v in form.items()
                if k != "csrf" and "password" not in k.lower()}
        # Names count too: a stranger's refused form must not fill the table.
        if len(kept) > MAX_FIELDS or sum(len(k) + len(v) for k, v in kept.items()) > MAX_KEPT:
            kept = {}
        payload["form"] = kept
    s.add(WebNotice(key_hash=_hash(raw), payload=json.dumps(payload)))
    response.set_cookie(COOKIE, raw, max_age=int(LIFETIME.total_seconds()), httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")


def take(s: Session, request: Request) -> dict[str, Any] | None:
    """This browser's notice, if it has one; it is shown once."""
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 64:
        return None
    row = s.get(WebNotice, _hash(raw))
    # Old notices go with any read: no timer, and the table stays a few rows long.
    s.execute(delete(WebNotice).where(WebNotice.created_at < utcnow() - LIFETIME))  # type: ignore[arg-type]
    if row is None:
        s.commit()
        return None
    s.delete(row)
    s.commit()
    data: dict[str, Any] = json.loads(row.payload)
    return data
