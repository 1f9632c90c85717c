"""Accounts, invitations, API tokens and who holds which role in which body."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import defaultdict, deque
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, select

from node.errors import Problem, conflict, invalid, not_found
from node.governance import audit
from node.models import ApiToken, Invitation, LocalActor, Member, Membership
from node.models.base import utcnow

ROLES = ("member", "facilitator", "spokesperson")
_hasher = PasswordHasher()


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise invalid("weak-password", "the password needs at least 10 characters")


def _check_username(username: str) -> None:
    if not (2 <= len(username) <= 64) or not all(c.isalnum() or c in "_-." for c in username):
        raise invalid("bad-username", "use 2–64 letters, digits, '_', '-' or '.'")


def create_member(session: Session, username: str, password: str, display_name: str,
                  family: str = "") -> Member:
    _check_username(username)
    _check_password(password)
    if session.exec(select(Member).where(Member.username == username.lower())).first():
        raise conflict("username-taken", "that username is taken")
    member = Member(username=username.lower(), display_name=display_name or username,
                    password_hash=_hasher.hash(password), family=family)
    session.add(member)
    session.flush()
    audit.append(session, f"member:{member.id}", "member.created", f"member:{member.id}",
                 {"username": member.username, "family": family})
    return member


def grant(session: Session, by: str, member: Member, body: LocalActor, role: str) -> None:
    if role not in ROLES:
        raise invalid("bad-role", f"role must be one of {', '.join(ROLES)}")
    exists = session.exec(select(Membership).where(
        Membership.member_id == member.id, Membership.body_id == body.id,
        Membership.role == role)).first()
    if exists:
        return
    session.add(Membership(member_id=member.id or 0, body_id=body.id or 0, role=role))
    if role != "member":
        grant(session, by, member, body, "member")
    audit.append(session, by, "role.granted", f"body:{body.handle}",
                 {"member": member.id, "role": role})


def revoke(session: Session, by: str, member: Member, body: LocalActor, role: str) -> None:
    rows = session.exec(select(Membership).where(
        Membership.member_id == member.id, Membership.body_id == body.id,
        Membership.role == role if role != "member" else col(Membership.role).in_(ROLES))).all()
    for row in rows:
        session.delete(row)
    audit.append(session, by, "role.revoked", f"body:{body.handle}",
                 {"member": member.id, "role": role})


def roles_in(session: Session, member: Member | None, body: LocalActor) -> set[str]:
    if member is None:
        return set()
    rows = session.exec(select(Membership.role).where(
        Membership.member_id == member.id, Membership.body_id == body.id)).all()
    return set(rows)


def invite(session: Session, by: Member | None, body: LocalActor, role: str = "member",
           valid_days: int = 7) -> str:
    """Returns the raw invitation token (shown once; stored hashed)."""
    if role not in ROLES:
        raise invalid("bad-role", f"role must be one of {', '.join(ROLES)}")
    if not (1 <= valid_days <= 60):
        raise invalid("bad-expiry", "an invitation is valid for 1 to 60 days")
    raw = secrets.token_urlsafe(24)
    session.add(Invitation(token_hash=token_hash(raw), body_id=body.id or 0,
                           invited_by=by.id if by else None, role=role,
                           expires_at=utcnow() + timedelta(days=valid_days)))
    who = f"member:{by.id}" if by else "node"
    audit.append(session, who, "invitation.created", f"body:{body.handle}",
                 {"role": role, "valid_days": valid_days})
    return raw


def accept_invitation(session: Session, raw: str, username: str, password: str,
                      display_name: str, family: str = "") -> Member:
    inv = session.exec(select(Invitation).where(Invitation.token_hash == token_hash(raw))).first()
    if inv is None:
        raise not_found("invitation")
    expires = inv.expires_at if inv.expires_at.tzinfo else inv.expires_at.replace(
        tzinfo=utcnow().tzinfo)
    if inv.used_at is not None:
        raise Problem(410, "invitation-used", "this invitation has already been used")
    if expires < utcnow():
        raise Problem(410, "invitation-expired", "this invitation has expired")
    member = create_member(session, username, password, display_name, family)
    body = session.get(LocalActor, inv.body_id)
    assert body is not None
    grant(session, f"member:{inv.invited_by}" if inv.invited_by else "node", member, body,
          inv.role)
    inv.used_at = utcnow()
    inv.used_by = member.id
    session.add(inv)
    return member


class LoginLimiter:
    """At most `attempts` failed logins per username per window, per process."""

    def __init__(self, attempts: int = 5, window: float = 300.0) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def check(self, key: str) -> None:
        q = self._failures[key]
        now = time.monotonic()
        while q and q[0] < now - self.window:
            q.popleft()
        if len(q) >= self.attempts:
            raise Problem(429, "too-many-attempts", "too many failed logins; wait a few minutes",
                          retry_after=int(self.window))

    def failed(self, key: str) -> None:
        self._failures[key].append(time.monotonic())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


def authenticate(session: Session, limiter: LoginLimiter, username: str,
                 password: str) -> Member:
    key = username.lower()
    limiter.check(key)
    member = session.exec(select(Member).where(Member.username == key)).first()
    try:
        if member is None:
            raise VerificationError()
        _hasher.verify(member.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        limiter.failed(key)
        raise Problem(401, "bad-credentials", "wrong username or password") from exc
    limiter.succeeded(key)
    return member


WEB_SESSION_DAYS = 30


def create_token(session: Session, member: Member, label: str = "",
                 kind: str = "api") -> tuple[ApiToken, str]:
    raw = ("cmt_" if kind == "api" else "cms_") + secrets.token_urlsafe(32)
    token = ApiToken(member_id=member.id or 0, token_hash=token_hash(raw), label=label[:100],
                     kind=kind)
    session.add(token)
    session.flush()
    audit.append(session, f"member:{member.id}", "token.created", f"member:{member.id}",
                 {"token": token.id, "label": token.label})
    return token, raw


def revoke_token(session: Session, member: Member, token_id: int) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or token.member_id != member.id:
        raise not_found("token")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        audit.append(session, f"member:{member.id}", "token.revoked", f"member:{member.id}",
                     {"token": token.id})


def member_for_token(session: Session, raw: str, kind: str = "api") -> Member | None:
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == token_hash(raw))).first()
    if token is None or token.revoked_at is not None or token.kind != kind:
        return None
    if kind == "web":
        created = token.created_at if token.created_at.tzinfo else token.created_at.replace(
            tzinfo=utcnow().tzinfo)
        if created < utcnow() - timedelta(days=WEB_SESSION_DAYS):
            return None
    return session.get(Member, token.member_id)
