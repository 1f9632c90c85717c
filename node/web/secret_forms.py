"""Forms whose answer is a secret shown once: an invitation link, a password-reset link.

The link is rendered in the answer to the POST, never behind a redirect, so it is in no
URL and no notice row; the node keeps only its hash. A browser may send such a form
again: a reload of the answer, a double tap on a slow link, going back to it. That must
not make a second invitation, nor replace a reset link already handed over. So each form
carries a random `once` value, and the secret is not drawn at random but derived from
that value, what the form asks for, and the browser's session cookie (which the node
also keeps only hashed): the same form sent again from the same session names the same
invitation, found by its hash, and the answer shows that link again instead of making
another. Without the session's cookie nobody can compute it, so it is no easier to guess
than a random token; a form without `once` (another client) gets a random one."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from node.errors import Problem
from node.errors.text import say
from node.models import Member
from node.web.actions import open_session, refused_form, see_other
from node.web.notices import leave
from node.web.render import language
from node.web.session import COOKIE, current_member, form

FIELD = "once"


def once() -> str:
    """A new form's `once` value: each rendering of the form has its own."""
    return secrets.token_urlsafe(16)


def secret_for(request: Request, data: dict[str, str], *asked: str) -> str | None:
    """The secret this form makes: the same for the same form (its `once` value and
    `asked`, what it asks for) sent again from the same session; None when the form
    carries no `once` (the caller then draws a random one)."""
    value, session = data.get(FIELD, ""), request.cookies.get(COOKIE, "")
    if not (16 <= len(value) <= 64) or not session:
        return None
    mac = hmac.new(session.encode(), "\x00".join(("secret-form", value, *asked)).encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


Act = Callable[[Session, Member, dict[str, str]], Response]


async def shown_once(request: Request, back: str, act: Act) -> Response:
    """Run a form whose answer shows a secret once (rendered by `act`). A refusal goes
    back to `back` with a notice, like every other form."""
    try:
        data = await form(request)
    except Problem as exc:
        return await asyncio.to_thread(refused_form, request, exc, back)
    return await asyncio.to_thread(_shown_once, request, back, act, data)


def _shown_once(request: Request, back: str, act: Act, data: dict[str, str]) -> Response:
    with open_session(request) as s:
        me = current_member(request, s)
        if me is None:
            return see_other(f"/login?next={back}")
        try:
            try:
                return act(s, me, data)
            except IntegrityError:
                # The same form twice at once (a double tap): the other request made
                # it first, under the same hash; this one now finds it and shows it.
                s.rollback()
                return act(s, me, data)
        except Problem as exc:
            s.rollback()
            response = see_other(back)
            leave(s, request, response, {"error": say(exc, language(request, me)),
                                         "field": exc.extra.get("field"),
                                         "status": exc.status, "code": exc.code,
                                         "form": data})
            s.commit()
            return response
