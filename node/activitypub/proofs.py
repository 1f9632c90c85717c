"""FEP-8b32 object integrity proofs with the eddsa-jcs-2022 cryptosuite."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from node.activitypub.jcs import canonical
from node.activitypub.keys import b58decode, b58encode

CRYPTOSUITE = "eddsa-jcs-2022"


class ProofError(Exception):
    status = 401


def _hash_data(document: dict[str, Any], config: dict[str, Any]) -> bytes:
    doc_hash = hashlib.sha256(canonical(document)).digest()
    config_hash = hashlib.sha256(canonical(config)).digest()
    return config_hash + doc_hash


def sign_object(
    document: dict[str, Any],
    key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: str | None = None,
) -> dict[str, Any]:
    """Return a copy of `document` with a DataIntegrityProof added."""
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config: dict[str, Any] = {
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "verificationMethod": verification_method,
        "proofPurpose": "assertionMethod",
        "created": created or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if "@context" in unsigned:
        config = {"@context": unsigned["@context"], **config}
    signature = key.sign(_hash_data(unsigned, config))
    return {**unsigned, "proof": {**config, "proofValue": "z" + b58encode(signature)}}


def proof_of(document: dict[str, Any]) -> dict[str, Any]:
    proof = document.get("proof")
    if isinstance(proof, list):
        proof = next((p for p in proof if isinstance(p, dict)
                      and p.get("cryptosuite") == CRYPTOSUITE), None)
    if not isinstance(proof, dict):
        raise ProofError("object carries no proof")
    if proof.get("type") != "DataIntegrityProof" or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError("proof is not an eddsa-jcs-2022 DataIntegrityProof")
    if proof.get("proofPurpose") != "assertionMethod":
        raise ProofError("proof purpose must be assertionMethod")
    if not isinstance(proof.get("verificationMethod"), str):
        raise ProofError("proof has no verificationMethod")
    return proof


def verify_object(document: dict[str, Any], key: ed25519.Ed25519PublicKey) -> str:
    """Verify the document's proof with `key`; returns the verification method id."""
    proof = proof_of(document)
    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("proofValue must be base58btc multibase")
    try:
        signature = b58decode(value[1:])
    except ValueError as exc:
        raise ProofError("proofValue is not base58btc") from exc
    unsigned = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        key.verify(signature, _hash_data(unsigned, config))
    except InvalidSignature as exc:
        raise ProofError("proof does not verify") from exc
    return str(proof["verificationMethod"])
