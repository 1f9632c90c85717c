"""Creating the bodies this node hosts, with their keys."""

from __future__ import annotations

from sqlmodel import Session, select

from node.activitypub import keys
from node.models import LocalActor


class IdentityError(Exception):
    status = 409


def create_local_actor(
    session: Session, handle: str, name: str, level: str, primary: bool = False,
    summary: str = "",
) -> LocalActor:
    if session.exec(select(LocalActor).where(LocalActor.handle == handle)).first():
        raise IdentityError(f"a body with handle {handle!r} already exists on this node")
    rsa_key = keys.generate_rsa()
    ed_key = keys.generate_ed25519()
    actor = LocalActor(
        handle=handle,
        name=name,
        summary=summary,
        level=level,
        is_primary=primary,
        rsa_private_pem=keys.private_pem(rsa_key),
        rsa_public_pem=keys.public_pem(rsa_key.public_key()),
        ed25519_private_pem=keys.private_pem(ed_key),
        ed25519_public_multibase=keys.ed25519_multibase(ed_key.public_key()),
    )
    session.add(actor)
    session.flush()
    return actor


def primary_actor(session: Session) -> LocalActor | None:
    return session.exec(select(LocalActor).where(LocalActor.is_primary == True)).first()  # noqa: E712
