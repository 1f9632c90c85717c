"""Who sent this activity, and may they send it? Signature first, then authorship."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from node.activitypub.directory import (
    ActorDirectory,
    KeyLookupFailed,
    KeyUnavailable,
    host_of,
    netloc_of,
)
from node.activitypub.httpsig import HttpMessage, Policy, SignatureError, WrongAuthority, prepare
from node.activitypub.proofs import ProofError, proof_of, verify_object


class Unauthorized(Exception):
    status = 401


class Misaddressed(Unauthorized):
    """Signed for another server's Host: whatever the signature says, not to us."""


class Forbidden(Exception):
    status = 403


@dataclass(frozen=True)
class Verified:
    signer: str  # key id that signed the request
    signer_actor: str
    via_proof: bool


def key_host(msg: HttpMessage, policy: Policy) -> tuple[str, Any]:
    """Parse the signature far enough to know its keyId host (`hosts.host_key`: with
    its port), before any fetch."""
    try:
        prepared = prepare(msg, policy)
    except WrongAuthority as exc:
        raise Misaddressed(str(exc)) from exc
    except SignatureError as exc:
        raise Unauthorized(str(exc)) from exc
    return host_of(prepared.key_id), prepared


async def verify_request(
    prepared: Any, activity: dict[str, Any], directory: ActorDirectory
) -> Verified:
    # KeyUnavailable (a subclass of KeyLookupFailed) passes through untouched: a key we
    # could not fetch now, or may not fetch yet, says nothing about the signature,
    # and a 401 would tell the sender it is bad.
    try:
        key = await directory.key_for(prepared.key_id)
    except KeyUnavailable:
        raise
    except KeyLookupFailed as exc:
        raise Unauthorized(str(exc)) from exc
    try:
        prepared.verify(key.key)
    except SignatureError:
        # The signer may have rotated its key: fetch once more, then give up.
        try:
            key = await directory.key_for(prepared.key_id, refresh=True)
            prepared.verify(key.key)
        except KeyUnavailable:
            raise
        except (KeyLookupFailed, SignatureError) as exc:
            raise Unauthorized(str(exc)) from exc
    actor = activity.get("actor")
    actor_id = actor.get("id") if isinstance(actor, dict) else actor
    if not isinstance(actor_id, str):
        raise Unauthorized("activity has no actor")
    if netloc_of(str(activity.get("id", ""))) != netloc_of(actor_id):
        raise Forbidden("activity id and actor are on different hosts")
    if key.owner == actor_id:
        return Verified(prepared.key_id, key.owner, via_proof=False)
    # Relayed: the signer is not the actor, so the activity must prove its author.
    await verify_author_proof(activity, actor_id, directory)
    return Verified(prepared.key_id, key.owner, via_proof=True)


async def verify_author_proof(
    document: dict[str, Any], author: str, directory: ActorDirectory
) -> None:
    """Refuses (Forbidden) a proof that is missing, not the author's or false; raises
    KeyUnavailable when the author's key cannot be fetched right now."""
    try:
        method = str(proof_of(document)["verificationMethod"])
    except ProofError as exc:
        raise Forbidden(f"signer is not the activity's actor and {exc}") from exc
    if method.split("#", 1)[0] != author:
        raise Forbidden("proof is not by the activity's actor")
    try:
        key = await directory.key_for(method)
    except KeyUnavailable:
        # No verdict yet: the caller retries (the processor) or asks the sender to.
        raise
    except KeyLookupFailed as exc:
        raise Forbidden(f"cannot load the author's proof key: {exc}") from exc
    if not isinstance(key.key, ed25519.Ed25519PublicKey):
        raise Forbidden("proof key is not Ed25519")
    try:
        verify_object(document, key.key)
    except ProofError as exc:
        raise Forbidden(f"author's proof: {exc}") from exc
