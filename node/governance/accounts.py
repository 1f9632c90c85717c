"""A member's password: changing it, and the single-use reset link a coordinator makes
for someone who lost theirs. Passwords are argon2 hashes, as at account creation."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from node.errors import Problem, forbidden
from node.governance.members import _check_password, _check_secret, token_hash
from node.governance.passwords import hash_password, matches
from node.models import ApiToken, LocalActor, Member
from node.models.base import aware
from node.models.members import PasswordReset
from node.tx import Tx

# Long enough to hand the link over in person or by phone, short enough that a link
# left in a chat is soon worth nothing.
RESET_VALID = timedelta(hours=24)


def _checked(password: str) -> str:
    try:
        _check_password(password)
    except Problem as exc:
        raise Problem(exc.status, exc.code, exc.detail, field="password") from None
    return password


def _end_sessions(tx: Tx, member: Member, keep: int | None = None,
                  kinds: tuple[str, ...] = ("web",)) -> int:
    result = tx.session.execute(
        update(ApiToken).where(col(ApiToken.member_id) == member.id,
                               col(ApiToken.revoked_at).is_(None),
                               col(ApiToken.kind).in_(kinds),
                               col(ApiToken.id) != (keep or 0))
        .values(revoked_at=tx.now()).execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def change_password(tx: Tx, current: str, new: str, keep_token: int | None = None) -> None:
    """The member's own change: the current password is required (a session left open
    on a shared phone must not be enough). Their other browser sessions end."""
    member = tx.member
    if not matches(member.password_hash, current):
        raise Problem(403, "wrong-password", "the current password is not right",
                      field="current_password")
    member.password_hash = hash_password(_checked(new))
    tx.session.add(member)
    ended = _end_sessions(tx, member, keep=keep_token)
    tx.audit("password.changed", f"member:{member.id}", {"sessions_ended": ended})


def make_reset(tx: Tx, body: LocalActor, target: Member, token: str | None = None) -> str:
    """A coordinator of `body` makes a reset link for one of its members; returns the raw
    token (shown once, stored hashed). Earlier unused links for that member stop working.

    `token`, when given, is the raw token to use instead of a random one (the pages
    derive it from the form, node.web.secret_forms). If the link it names was already
    made for this member, nothing is made again and the earlier link is left alone: the
    same form sent twice must not replace a link already handed over."""
    from node.governance import authz

    session, by = tx.session, tx.member
    authz.require_facilitator(session, by, body)
    if "reset_password" not in authz.member_actions(session, by, body, target):
        raise forbidden("you may not reset this member's password")
    if token is not None:
        _check_secret(token)
        made = reset_by_token(session, token)
        if made is not None and made.member_id == target.id:
            return token
    now = tx.now()
    session.execute(update(PasswordReset).where(
        col(PasswordReset.member_id) == target.id, col(PasswordReset.used_at).is_(None),
        col(PasswordReset.expires_at) > now).values(expires_at=now)
        .execution_options(synchronize_session=False))
    raw = token or secrets.token_urlsafe(24)
    session.add(PasswordReset(token_hash=token_hash(raw), member_id=target.id or 0,
                              created_by=by.id or 0, body_id=body.id or 0,
                              created_at=now, expires_at=now + RESET_VALID))
    tx.audit("password.reset_link", f"member:{target.id}",
             {"body": body.handle, "valid_hours": RESET_VALID.total_seconds() / 3600})
    return raw


def reset_by_token(session: Session, raw: str) -> PasswordReset | None:
    """The reset link a raw token names, used, expired or not."""
    return session.exec(select(PasswordReset).where(
        PasswordReset.token_hash == token_hash(raw))).first()


def usable_reset(tx: Tx, raw: str) -> bool:
    """Whether the link still works now (what `reset_for` checks)."""
    try:
        reset_for(tx, raw)
    except Problem:
        return False
    return True


def reset_for(tx: Tx, raw: str) -> tuple[PasswordReset, Member]:
    """The reset a link names and whose it is, if it may still be used (now)."""
    session = tx.session
    row = reset_by_token(session, raw)
    if row is None or row.used_at is not None or aware(row.expires_at) <= tx.now():
        raise Problem(410, "reset-invalid", "this link was used, has expired or never existed")
    # The link is worth what its maker may still do: checked again now, so it dies when
    # the maker leaves the coordination, the member leaves the body, or the member has
    # since taken a role the maker could not have reset.
    from node.governance import authz

    member = session.get(Member, row.member_id)
    maker = session.get(Member, row.created_by)
    body = session.get(LocalActor, row.body_id)
    if member is None or maker is None or body is None or \
            "reset_password" not in authz.member_actions(session, maker, body, member):
        raise Problem(410, "reset-invalid", "this link was used, has expired or never existed")
    return row, member


def use_reset(tx: Tx, raw: str, new: str) -> Member:
    """Set a new password with a reset link: once (a conditional UPDATE, as invitations
    are claimed), then every session and API token of that member ends, since whoever
    held the old password may hold them too. Recorded as that member's own act."""
    row, member = reset_for(tx, raw)
    _checked(new)
    now = tx.now()
    result = tx.session.execute(
        update(PasswordReset).where(col(PasswordReset.id) == row.id,
                                    col(PasswordReset.used_at).is_(None),
                                    col(PasswordReset.expires_at) > now)
        .values(used_at=now).execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        raise Problem(410, "reset-invalid", "this link was used, has expired or never existed")
    member.password_hash = hash_password(new)
    tx.session.add(member)
    ended = _end_sessions(tx, member, kinds=("web", "api"))
    tx.acting_as(member).audit("password.reset", f"member:{member.id}",
                               {"link_by": row.created_by, "sessions_ended": ended})
    return member
