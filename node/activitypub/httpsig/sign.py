"""Signing outgoing requests (deliveries and signed GETs)."""

from __future__ import annotations

import time
from email.utils import formatdate

from node.activitypub.httpsig import algorithms, cavage, rfc9421
from node.activitypub.httpsig.digest import content_digest_header, digest_header
from node.activitypub.httpsig.message import HttpMessage
from node.activitypub.keys import PrivateKey


def sign_cavage(
    method: str, url: str, key_id: str, key: PrivateKey, body: bytes | None = None,
    headers: dict[str, str] | None = None, now: float | None = None,
) -> dict[str, str]:
    """Headers (Host, Date, Digest, Signature) for a request as Mastodon expects them."""
    msg = HttpMessage.request(method, url)
    out = dict(headers or {})
    out["Host"] = msg.authority
    out["Date"] = formatdate(now if now is not None else time.time(), usegmt=True)
    signed = ["(request-target)", "host", "date"]
    if body is not None:
        out["Digest"] = digest_header(body)
        signed.append("digest")
    msg = HttpMessage.request(method, url, out.items(), body or b"")
    params = cavage.CavageParams(key_id=key_id, algorithm="rsa-sha256", headers=signed,
                                 signature=b"")
    data = cavage.signing_string(params, msg).encode()
    sig = algorithms.sign("rsa-v1_5-sha256", key, data)
    out["Signature"] = cavage.build_header(key_id, "rsa-sha256", signed, sig)
    return out


def sign_rfc9421(
    method: str, url: str, key_id: str, key: PrivateKey, alg: str, body: bytes | None = None,
    headers: dict[str, str] | None = None, now: float | None = None, label: str = "sig1",
) -> dict[str, str]:
    out = dict(headers or {})
    components: list[rfc9421.Component] = [("@method", {}), ("@target-uri", {})]
    if body is not None:
        out["Content-Digest"] = content_digest_header(body)
        components.append(("content-digest", {}))
    params = {"created": int(now if now is not None else time.time()), "keyid": key_id,
              "alg": alg}
    msg = HttpMessage.request(method, url, out.items(), body or b"")
    base = rfc9421.signature_base(msg, components, params)
    sig = algorithms.sign(alg, key, base.encode())
    for name, value in rfc9421.build_headers(label, components, params, sig):
        out[name] = value
    return out
