"""Browser sessions and CSRF protection for the HTML forms.

A session is a `web` token in the api_token table, sent as an HttpOnly cookie.
Each form carries a CSRF token derived from the session (or, before login, from a
separate random cookie), and every POST must bring it back.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import parse_qs

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.errors import Problem
from node.governance.members import WEB_SESSION_DAYS, member_for_web_session
from node.models import Member

COOKIE = "comuna_session"
PRE = "comuna_pre"
# No page has a form anywhere near this long.
MAX_FORM = 512 * 1024


def current_member(request: Request, session: Session) -> Member | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    return member_for_web_session(session, raw, request.app.state.ctx.clock.now())


def _derive(seed: str) -> str:
    return hashlib.sha256(("csrf:" + seed).encode()).hexdigest() if seed else ""


def csrf_token(request: Request) -> str:
    return _derive(request.cookies.get(COOKIE) or request.cookies.get(PRE) or "")


def mask(token: str) -> str:
    """The token as a page carries it: a fresh random pad, then the token XOR the pad.
    Pages are compressed and some echo what was typed; a secret that reads differently
    in every response cannot be guessed byte by byte from compressed sizes (BREACH)."""
    raw = bytes.fromhex(token)
    pad = secrets.token_bytes(len(raw))
    return (pad + bytes(a ^ b for a, b in zip(raw, pad, strict=True))).hex()


def unmask(sent: str) -> str:
    """The token behind what a form sent back (a masked token, or a bare one)."""
    try:
        raw = bytes.fromhex(sent)
    except ValueError:
        return ""
    if len(raw) != 64:
        return sent
    pad, body = raw[:32], raw[32:]
    return bytes(a ^ b for a, b in zip(body, pad, strict=True)).hex()


def csrf_for_page(request: Request) -> tuple[str, str | None]:
    """The token to embed in a page's forms (masked), and a new pre-login seed to set,
    if needed."""
    if request.cookies.get(COOKIE) or request.cookies.get(PRE):
        return mask(csrf_token(request)), None
    seed = secrets.token_urlsafe(24)
    return mask(_derive(seed)), seed


def set_pre_cookie(request: Request, response: Response, seed: str) -> None:
    response.set_cookie(PRE, seed, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")


async def _capped_body(request: Request) -> bytes:
    """The body, read at most MAX_FORM bytes far: a chunked body has no Content-Length
    to refuse it by. Kept where Starlette keeps a body read once (`request.body()`), so
    a route may read its form twice."""
    if not hasattr(request, "_body"):
        parts, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > MAX_FORM:
                    raise Problem(413, "too-large", "the form is too large")
                parts.append(chunk)
        except RuntimeError as exc:  # left half read by an earlier refusal
            raise Problem(413, "too-large", "the form is too large") from exc
        request._body = b"".join(parts)
    return await request.body()


async def form(request: Request) -> dict[str, str]:
    """Parse an urlencoded form and check its CSRF token."""
    if int(request.headers.get("content-length") or 0) > MAX_FORM:
        raise Problem(413, "too-large", "the form is too large")
    body = (await _capped_body(request)).decode("utf-8", "replace")
    data = {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}
    if any("\x00" in k or "\x00" in v for k, v in data.items()):
        raise Problem(400, "bad-form", "the form contains characters that cannot be stored")
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest(expected, unmask(data.get("csrf", ""))):
        # What the person wrote goes back to them on the refusal's page, to copy.
        raise Problem(403, "csrf", "the form has expired; reload the page and try again",
                      typed=typed_text(data))
    return data


def typed_text(data: dict[str, str]) -> list[str]:
    """The words a person typed into a form (not its tokens, choices or passwords)."""
    return [v for k, v in data.items() if len(v.strip()) > 2 and " " in v.strip()
            and k not in ("csrf", "form_id") and "password" not in k.lower()]


def start_session(request: Request, response: Response, raw: str) -> None:
    response.set_cookie(COOKIE, raw, max_age=WEB_SESSION_DAYS * 86400, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")
    response.delete_cookie(PRE)
