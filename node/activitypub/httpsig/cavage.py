"""draft-cavage-http-signatures-12, in the form fediverse servers exchange it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from node.activitypub.httpsig.errors import SignatureError
from node.activitypub.httpsig.message import HttpMessage

# Both names mean RSASSA-PKCS1-v1_5 with SHA-256 in practice (Mastodon's reading).
ALGORITHMS = {"rsa-sha256", "hs2019"}


@dataclass(frozen=True)
class CavageParams:
    key_id: str
    algorithm: str | None
    headers: list[str]
    signature: bytes
    created: int | None = None
    expires: int | None = None


def parse_params(value: str) -> CavageParams:
    params: dict[str, str] = {}
    rest = value.strip()
    if rest.lower().startswith("signature "):
        rest = rest[len("signature ") :]
    while rest:
        name, eq, rest = rest.partition("=")
        if not eq:
            raise SignatureError("Signature header is malformed")
        name = name.strip().lower()
        rest = rest.lstrip()
        if rest.startswith('"'):
            end = rest.find('"', 1)
            if end < 0:
                raise SignatureError("Signature header has an unterminated quoted value")
            val, rest = rest[1:end], rest[end + 1 :]
        else:
            val, _, rest = rest.partition(",")
            rest = "," + rest if _ else ""
            val = val.strip()
        params[name] = val
        rest = rest.lstrip()
        if rest.startswith(","):
            rest = rest[1:].lstrip()
        elif rest:
            raise SignatureError("Signature header is malformed")
    if "keyid" not in params or "signature" not in params:
        raise SignatureError("Signature header lacks keyId or signature")
    try:
        sig = base64.b64decode(params["signature"], validate=True)
    except binascii.Error as exc:
        raise SignatureError("signature is not base64") from exc
    headers = params.get("headers", "date").lower().split()
    algorithm = params.get("algorithm")
    return CavageParams(
        key_id=params["keyid"],
        algorithm=algorithm.lower() if algorithm else None,
        headers=headers,
        signature=sig,
        created=_int(params.get("created")),
        expires=_int(params.get("expires")),
    )


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise SignatureError("created/expires must be integers") from exc


def signing_string(params: CavageParams, msg: HttpMessage, target: str | None = None) -> str:
    lines = []
    for name in params.headers:
        if name == "(request-target)":
            lines.append(f"(request-target): {msg.method.lower()} {target or msg.target}")
        elif name == "(created)":
            if params.created is None:
                raise SignatureError("(created) is signed but no created parameter given")
            lines.append(f"(created): {params.created}")
        elif name == "(expires)":
            if params.expires is None:
                raise SignatureError("(expires) is signed but no expires parameter given")
            lines.append(f"(expires): {params.expires}")
        else:
            if name == "host" and "host" not in msg.headers:
                value: str | None = msg.authority
            else:
                value = msg.headers.combined(name)
            if value is None:
                raise SignatureError(f"signed header {name} is missing from the request")
            lines.append(f"{name}: {value}")
    return "\n".join(lines)


def build_header(key_id: str, algorithm: str, headers: list[str], signature: bytes) -> str:
    return (
        f'keyId="{key_id}",algorithm="{algorithm}",headers="{" ".join(headers)}",'
        f'signature="{base64.b64encode(signature).decode()}"'
    )
