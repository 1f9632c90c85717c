"""Body digests: RFC 3230 `Digest` (cavage era) and RFC 9530 `Content-Digest`."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import http_sf

from node.activitypub.httpsig.errors import SignatureError

_ALGS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}


def digest_header(body: bytes) -> str:
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()


def content_digest_header(body: bytes, alg: str = "sha-256") -> str:
    return f"{alg}=:" + base64.b64encode(_ALGS[alg](body).digest()).decode() + ":"


def check_digest(value: str, body: bytes) -> None:
    """Every recognised algorithm in an RFC 3230 Digest must match; at least one must be known."""
    known = 0
    for part in value.split(","):
        alg, sep, b64 = part.strip().partition("=")
        if not sep:
            raise SignatureError("Digest header is malformed")
        func = _ALGS.get(alg.strip().lower())
        if func is None:
            continue
        known += 1
        try:
            claimed = base64.b64decode(b64.strip(), validate=True)
        except ValueError as exc:
            raise SignatureError("Digest value is not base64") from exc
        if not hmac.compare_digest(claimed, func(body).digest()):
            raise SignatureError("Digest does not match the body")
    if not known:
        raise SignatureError("Digest uses no supported algorithm (SHA-256, SHA-512)")


def check_content_digest(value: str, body: bytes) -> None:
    try:
        parsed: Any = http_sf.parse(value.encode(), tltype="dictionary")
    except Exception as exc:
        raise SignatureError("Content-Digest is not a structured dictionary") from exc
    known = 0
    for alg, (digest, _params) in parsed.items():
        func = _ALGS.get(alg)
        if func is None:
            continue
        if not isinstance(digest, bytes):
            raise SignatureError("Content-Digest value is not a byte sequence")
        known += 1
        if not hmac.compare_digest(digest, func(body).digest()):
            raise SignatureError("Content-Digest does not match the body")
    if not known:
        raise SignatureError("Content-Digest uses no supported algorithm (sha-256, sha-512)")
