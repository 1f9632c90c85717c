"""Accounts, invitations, API tokens and who holds which role in which body."""

from __future__ import annotations

import functools
import hashlib
import secrets
import threading
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from node.errors import Problem, conflict, invalid, not_found
from node.governance.passwords import hash_password, matches
from node.models import ApiToken, Invitation, LocalActor, Member, Membership
from node.models.base import aware
from node.storage.rowlock import locked
from node.tx import Tx

ROLES = ("member", "facilitator", "spokesperson")


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise invalid("weak-password", "the password needs at least 10 characters")


def _check_username(username: str) -> None:
    if not (2 <= len(username) <= 64) or not all(c.isalnum() or c in "_-." for c in username):
        raise invalid("bad-username", "use 2–64 letters, digits, '_', '-' or '.'")


def create_member(tx: Tx, username: str, password: str, display_name: str,
                  family: str = "") -> Member:
    """A new account; it is recorded as the new member's own act."""
    session = tx.session
    _check_username(username)
    _check_password(password)
    if session.exec(select(Member).where(Member.username == username.lower())).first():
        raise conflict("username-taken", "that username is taken")
    member = Member(username=username.lower(), display_name=display_name or username,
                    password_hash=hash_password(password), family=family)
    session.add(member)
    try:
        session.flush()
    except IntegrityError as exc:
        # Someone took the name between the check above and this insert; the
        # transaction is spoilt (PostgreSQL), so nothing of it may be kept.
        session.rollback()
        raise conflict("username-taken", "that username is taken") from exc
    tx.acting_as(member).audit("member.created", f"member:{member.id}",
                               {"username": member.username, "family": family})
    return member


def grant(tx: Tx, member: Member, body: LocalActor, role: str) -> None:
    session = tx.session
    if role not in ROLES:
        raise invalid("bad-role", f"role must be one of {', '.join(ROLES)}")
    exists = session.exec(select(Membership).where(
        Membership.member_id == member.id, Membership.body_id == body.id,
        Membership.role == role)).first()
    if exists:
        return
    session.add(Membership(member_id=member.id or 0, body_id=body.id or 0, role=role))
    if role != "member":
        grant(tx, member, body, "member")
    tx.audit("role.granted", f"body:{body.handle}", {"member": member.id, "role": role})


def revoke(tx: Tx, member: Member, body: LocalActor, role: str) -> int:
    """Take `role` from `member`; returns how many of the invitations they made and that
    were waiting were withdrawn with it (losing the coordination)."""
    session = tx.session
    rows = session.exec(select(Membership).where(
        Membership.member_id == member.id, Membership.body_id == body.id,
        Membership.role == role if role != "member" else col(Membership.role).in_(ROLES))).all()
    for row in rows:
        session.delete(row)
    tx.audit("role.revoked", f"body:{body.handle}", {"member": member.id, "role": role})
    if role in ("facilitator", "member"):
        return _void_invitations_by(tx, member, body)
    return 0


MAKER_LEFT = "maker-left"


def _void_invitations_by(tx: Tx, maker: Member, body: LocalActor) -> int:
    """An invitation is worth what its maker may still do: when they stop coordinating
    the body, those they made that wait are withdrawn (recorded), so that someone taken
    out of the coordination cannot come back in, or bring others in, through a link
    made before. The facilitators' list then shows them withdrawn, and why. Returns how
    many were withdrawn."""
    now = tx.now()
    waiting = tx.session.exec(select(Invitation.id).where(
        Invitation.body_id == body.id, Invitation.invited_by == maker.id,
        col(Invitation.used_at).is_(None), col(Invitation.revoked_at).is_(None),
        col(Invitation.expires_at) > now)).all()
    if not waiting:
        return 0
    tx.session.execute(update(Invitation).where(col(Invitation.id).in_(waiting))
                       .values(revoked_at=now, revoked_reason=MAKER_LEFT)
                       .execution_options(synchronize_session=False))
    tx.audit("invitations.withdrawn", f"body:{body.handle}",
             {"maker": maker.id, "invitations": sorted(waiting)})
    return len(waiting)


def roles_in(session: Session, member: Member | None, body: LocalActor) -> set[str]:
    if member is None:
        return set()
    rows = session.exec(select(Membership.role).where(
        Membership.member_id == member.id, Membership.body_id == body.id)).all()
    return set(rows)


def invite(tx: Tx, body: LocalActor, role: str = "member", valid_days: int = 7,
           token: str | None = None) -> str:
    """Returns the raw invitation token (shown once; stored hashed). Made by the acting
    member, or by the node (the command line) when nobody is.

    `token`, when given, is the raw token to use instead of a random one: the pages
    derive it from the form (node.web.secret_forms), so that the same form sent twice
    names one invitation. If this body already has the invitation it names, nothing is
    made again and the token is returned as it is."""
    by = tx.who if isinstance(tx.who, Member) else None
    if role not in ROLES:
        raise invalid("bad-role", f"role must be one of {', '.join(ROLES)}")
    if not (1 <= valid_days <= 60):
        raise invalid("bad-expiry", "an invitation is valid for 1 to 60 days")
    if token is not None:
        _check_secret(token)
        made = invitation_by_token(tx.session, token)
        if made is not None and made.body_id == body.id:
            return token
    raw = token or secrets.token_urlsafe(24)
    tx.session.add(Invitation(token_hash=token_hash(raw), body_id=body.id or 0,
                              invited_by=by.id if by else None, role=role,
                              expires_at=tx.now() + timedelta(days=valid_days)))
    tx.acting_as(by).audit("invitation.created", f"body:{body.handle}",
                           {"role": role, "valid_days": valid_days})
    return raw


def invitation_by_token(session: Session, raw: str) -> Invitation | None:
    """The invitation a raw token names, in whatever state it is."""
    return session.exec(select(Invitation).where(
        Invitation.token_hash == token_hash(raw))).first()


def _check_secret(raw: str) -> None:
    """A single-use secret given by the caller is as long as one drawn here."""
    if len(raw) < 32:
        raise ValueError("a single-use token needs at least 32 characters")


def accept_invitation(tx: Tx, raw: str, username: str, password: str,
                      display_name: str, family: str = "") -> Member:
    """A visitor takes up an invitation: the account is theirs, the role is granted by
    whoever invited them (the node, for an invitation from the command line)."""
    session = tx.session
    inv = invitation_by_token(session, raw)
    if inv is None:
        raise not_found("invitation")
    now = tx.now()
    if inv.used_at is not None:
        raise _used()
    if inv.revoked_at is not None:
        raise Problem(410, "invitation-revoked", "this invitation was withdrawn")
    if aware(inv.expires_at) < now:
        raise Problem(410, "invitation-expired", "this invitation has expired")
    body = session.get(LocalActor, inv.body_id)
    assert body is not None
    if _maker_left(session, inv, body):
        # Withdrawn when its maker left the coordination (_void_invitations_by); this
        # holds for any way they left.
        raise Problem(410, "invitation-revoked", "this invitation was withdrawn")
    # Refuse a bad username or password before claiming, so a typo does not spend the link.
    _check_username(username)
    _check_password(password)
    _claim(session, inv.id or 0, now)
    member = create_member(tx, username, password, display_name, family)
    grant(tx.acting_as(f"member:{inv.invited_by}" if inv.invited_by else None), member, body,
          inv.role)
    session.execute(update(Invitation).where(col(Invitation.id) == inv.id)
                    .values(used_by=member.id))
    session.expire(inv)
    return member


def _used() -> Problem:
    return Problem(410, "invitation-used", "this invitation has already been used")


def _claim(session: Session, invitation_id: int, now: Any) -> None:
    """Mark the invitation used in one conditional UPDATE. Of concurrent accepts only
    one can match `used_at IS NULL` (the row lock on PostgreSQL, the write lock on
    SQLite make the others re-check after it commits), so a single-use link makes one
    account however many requests race for it. Reading `used_at` first and writing it
    later let six requests each make an account."""
    result = session.execute(
        update(Invitation)
        .where(col(Invitation.id) == invitation_id, col(Invitation.used_at).is_(None),
               col(Invitation.revoked_at).is_(None), col(Invitation.expires_at) > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        raise _used()


class LoginLimiter:
    """At most `attempts` failed logins per username per window, per process.

    An attempt is counted when it starts, under a lock, and forgotten when it succeeds:
    checking first and counting the failure after the (slow) password check let any
    number of concurrent guesses through. One instance serves web and API login alike
    (`app.state.login_limiter`), so the two doors do not each grant their own allowance."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._attempts: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def begin(self, key: str) -> None:
        """Count an attempt for `key`, or refuse it with 429 if the window is full."""
        now = time.monotonic()
        with self._lock:
            q = self._attempts[key]
            while q and q[0] < now - self.window:
                q.popleft()
            if len(q) >= self.attempts:
                raise Problem(429, "too-many-attempts",
                              "too many failed logins; wait a few minutes",
                              retry_after=int(self.window))
            q.append(now)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._attempts.pop(key, None)


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(session: Session, limiter: LoginLimiter, username: str,
                 password: str) -> Member:
    key = username.lower()
    limiter.begin(key)
    member = session.exec(select(Member).where(Member.username == key)).first()
    if member is None:
        # Spend the same argon2 work as for a real account, so the answer's timing
        # does not tell which usernames exist.
        matches(_dummy_hash(), password)
    if member is None or not matches(member.password_hash, password):
        raise Problem(401, "bad-credentials", "wrong username or password")
    limiter.succeeded(key)
    return member


WEB_SESSION_DAYS = 30


def create_token(tx: Tx, label: str = "", kind: str = "api") -> tuple[ApiToken, str]:
    """A token for the acting member (an API token, or a web session at login)."""
    session, member = tx.session, tx.member
    raw = ("cmt_" if kind == "api" else "cms_") + secrets.token_urlsafe(32)
    # Dated by the node's clock, which is what a web session's age is read against.
    token = ApiToken(member_id=member.id or 0, token_hash=token_hash(raw), label=label[:100],
                     kind=kind, created_at=tx.now())
    session.add(token)
    session.flush()
    tx.audit("token.created", f"member:{member.id}", {"token": token.id, "label": token.label})
    return token, raw


def revoke_token(tx: Tx, token_id: int) -> None:
    member = tx.member
    token = tx.session.get(ApiToken, token_id)
    if token is None or token.member_id != member.id:
        raise not_found("token")
    if token.revoked_at is None:
        token.revoked_at = tx.now()
        tx.session.add(token)
        tx.audit("token.revoked", f"member:{member.id}", {"token": token.id})


def member_for_token(session: Session, raw: str) -> Member | None:
    """Who an API token (Bearer) acts for, while it is not revoked."""
    token = _live_token(session, raw, "api")
    return None if token is None else session.get(Member, token.member_id)


def member_for_web_session(session: Session, raw: str, now: datetime) -> Member | None:
    """Who a web session cookie acts for, while it is not revoked nor older than
    WEB_SESSION_DAYS by the node's clock (`now`)."""
    token = _live_token(session, raw, "web")
    if token is None or aware(token.created_at) < now - timedelta(days=WEB_SESSION_DAYS):
        return None
    return session.get(Member, token.member_id)


def _live_token(session: Session, raw: str, kind: str) -> ApiToken | None:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
    if token is None or token.revoked_at is not None or token.kind != kind:
        return None
    return token


# --- the roster: roles, removal, invitations ---------------------------------------

def coordinators(session: Session, body: LocalActor) -> list[int]:
    return list(session.exec(select(Membership.member_id).where(
        Membership.body_id == body.id, Membership.role == "facilitator")).all())


def _require(session: Session, by: Member, body: LocalActor, target: Member,
             action: str) -> None:
    """Refuse what `authz.member_actions` does not offer, saying why."""
    from node.governance import authz

    # Two coordinators removing each other at once must not both pass the "not the last
    # coordinator" check: whoever comes second waits for the body's row and then sees
    # the first one's change (on SQLite too, whose driver would begin the transaction
    # only at the first write, after these reads).
    locked(session, LocalActor, col(LocalActor.id) == body.id)
    authz.require_facilitator(session, by, body)
    if action in authz.member_actions(session, by, body, target):
        return
    if "member" not in roles_in(session, target, body):
        raise not_found("member")
    if action in ("remove", "revoke_facilitator") and coordinators(session, body) == [target.id]:
        raise conflict("last-coordinator",
                       "a body keeps at least one coordinator; name another one first")
    raise Problem(409, "not-possible", f"cannot {action.replace('_', ' ')} for this member")


def change_role(tx: Tx, body: LocalActor, target: Member, action: str) -> int:
    """grant_facilitator | revoke_facilitator | grant_spokesperson | revoke_spokesperson.
    Returns how many of the target's waiting invitations were withdrawn with the change."""
    verb, _, role = action.partition("_")
    if verb not in ("grant", "revoke") or role not in ("facilitator", "spokesperson"):
        raise invalid("bad-role", f"role must be one of {', '.join(ROLES)}")
    _require(tx.session, tx.member, body, target, action)
    if verb == "grant":
        grant(tx, target, body, role)
        return 0
    return revoke(tx, target, body, role)


def remove_member(tx: Tx, body: LocalActor, target: Member, reason: str = "") -> int:
    """Take `target` out of `body` (every role). Their account stays: they may belong
    to other bodies, and what they wrote and voted stays on record. Returns how many of
    their waiting invitations were withdrawn."""
    session = tx.session
    _require(session, tx.member, body, target, "remove")
    for row in session.exec(select(Membership).where(
            Membership.member_id == target.id, Membership.body_id == body.id)).all():
        session.delete(row)
    tx.audit("member.removed", f"body:{body.handle}",
             {"member": target.id, "reason": reason[:500]})
    return _void_invitations_by(tx, target, body)


def invitation_state(inv: Invitation, now: datetime) -> str:
    """waiting | used | revoked | expired, at `now` (the node's clock)."""
    if inv.used_at is not None:
        return "used"
    if inv.revoked_at is not None:
        return "revoked"
    if aware(inv.expires_at) <= now:
        return "expired"
    return "waiting"


def invitation_standing(session: Session, inv: Invitation, now: datetime) -> str:
    """What an invitation is worth, for the pages: `invitation_state`, with `withdrawn`
    in place of `revoked` when it went with its maker's coordination (recorded by
    _void_invitations_by), and for one still waiting whose maker no longer coordinates
    the body (lost some way that did not record it: accept_invitation refuses it all
    the same)."""
    state = invitation_state(inv, now)
    if state == "revoked" and inv.revoked_reason == MAKER_LEFT:
        return "withdrawn"
    if state == "waiting" and _maker_left(session, inv, session.get(LocalActor, inv.body_id)):
        return "withdrawn"
    return state


def _maker_left(session: Session, inv: Invitation, body: LocalActor | None) -> bool:
    """Whether the member who made `inv` no longer coordinates its body (one made by the
    node, from the command line, has no maker to lose)."""
    if inv.invited_by is None:
        return False
    return body is None or "facilitator" not in roles_in(
        session, session.get(Member, inv.invited_by), body)


def invitations_of(session: Session, body: LocalActor, limit: int = 100) -> list[Invitation]:
    return list(session.exec(select(Invitation).where(Invitation.body_id == body.id)
                             .order_by(col(Invitation.id).desc()).limit(limit)).all())


def revoke_invitation(tx: Tx, body: LocalActor, invitation_id: int) -> Invitation:
    from node.governance import authz

    session = tx.session
    authz.require_facilitator(session, tx.member, body)
    inv = session.get(Invitation, invitation_id)
    if inv is None or inv.body_id != body.id:
        raise not_found("invitation")
    now = tx.now()
    # Conditional, like the claim: an invitation being accepted right now is either
    # used or revoked, never both.
    result = session.execute(
        update(Invitation).where(col(Invitation.id) == inv.id, col(Invitation.used_at).is_(None),
                                 col(Invitation.revoked_at).is_(None))
        .values(revoked_at=now).execution_options(synchronize_session=False))
    assert isinstance(result, CursorResult)
    if result.rowcount != 1:
        raise conflict("invitation-closed", "this invitation was already used or revoked")
    session.expire(inv)
    tx.audit("invitation.revoked", f"body:{body.handle}", {"invitation": inv.id})
    return inv
