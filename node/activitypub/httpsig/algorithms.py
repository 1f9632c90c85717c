"""Signature algorithms by name, for both signature schemes."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from node.activitypub.httpsig.errors import SignatureError
from node.activitypub.keys import PrivateKey, PublicKey

_PSS512 = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)


def default_algorithms(key: PublicKey) -> list[str]:
    """Algorithms to try when the signer did not name one (RFC 9421 lets the key decide)."""
    if isinstance(key, rsa.RSAPublicKey):
        return ["rsa-v1_5-sha256", "rsa-pss-sha512"]
    if isinstance(key, ed25519.Ed25519PublicKey):
        return ["ed25519"]
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ["ecdsa-p256-sha256" if key.curve.name == "secp256r1" else "ecdsa-p384-sha384"]
    return ["hmac-sha256"]


def verify(alg: str, key: PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        if alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, _PSS512, hashes.SHA512())
        elif alg == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        elif alg in ("ecdsa-p256-sha256", "ecdsa-p384-sha384") and isinstance(
            key, ec.EllipticCurvePublicKey
        ):
            size = 32 if alg == "ecdsa-p256-sha256" else 48
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            digest = hashes.SHA256() if size == 32 else hashes.SHA384()
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(digest))
        elif alg == "hmac-sha256" and isinstance(key, bytes):
            return hmac.compare_digest(hmac.new(key, data, hashlib.sha256).digest(), signature)
        else:
            raise SignatureError(f"algorithm {alg} does not fit the signer's key")
    except InvalidSignature:
        return False
    return True


def sign(alg: str, key: PrivateKey, data: bytes) -> bytes:
    if alg == "rsa-v1_5-sha256" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if alg == "rsa-pss-sha512" and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, _PSS512, hashes.SHA512())
    if alg == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if alg == "ecdsa-p256-sha256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    if alg == "hmac-sha256" and isinstance(key, bytes):
        return hmac.new(key, data, hashlib.sha256).digest()
    raise ValueError(f"cannot sign {alg} with this key")
