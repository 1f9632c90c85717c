"""RFC 9421 HTTP Message Signatures: parsing, signature base, serialisation."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote_plus

import http_sf

from node.activitypub.httpsig.errors import SignatureError
from node.activitypub.httpsig.message import HttpMessage

Component = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Rfc9421Signature:
    label: str
    components: list[Component]
    params: dict[str, Any]
    signature: bytes

    @property
    def key_id(self) -> str | None:
        value = self.params.get("keyid")
        return str(value) if value is not None else None

    @property
    def alg(self) -> str | None:
        value = self.params.get("alg")
        return str(value) if value is not None else None

    def covers(self, name: str) -> bool:
        return any(n == name and not p.get("req") for n, p in self.components)


def parse_signatures(msg: HttpMessage) -> list[Rfc9421Signature]:
    raw_input = msg.headers.combined("signature-input")
    raw_sig = msg.headers.combined("signature")
    if raw_input is None or raw_sig is None:
        raise SignatureError("Signature-Input and Signature headers are both required")
    try:
        inputs: Any = http_sf.parse(raw_input.encode(), tltype="dictionary")
        sigs: Any = http_sf.parse(raw_sig.encode(), tltype="dictionary")
    except Exception as exc:
        raise SignatureError("Signature-Input or Signature is not a structured dictionary") from exc
    out = []
    for label, (inner, params) in inputs.items():
        if label not in sigs:
            raise SignatureError(f"signature {label} has no Signature value")
        value, _ = sigs[label]
        if not isinstance(inner, list) or not isinstance(value, bytes):
            raise SignatureError(f"signature {label} is malformed")
        comps: list[Component] = []
        for item in inner:
            name, cparams = item
            if not isinstance(name, str):
                raise SignatureError("component identifiers must be strings")
            comps.append((name, dict(cparams)))
        out.append(Rfc9421Signature(label, comps, dict(params), value))
    if not out:
        raise SignatureError("Signature-Input names no signature")
    return out


def _ser_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ser_bare(value: Any) -> str:
    if value is True:
        return "?1"
    if value is False:
        return "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode() + ":"
    if isinstance(value, http_sf.Token):
        return str(value)
    return _ser_string(str(value))


def _ser_params(params: dict[str, Any]) -> str:
    out = ""
    for key, value in params.items():
        out += f";{key}" if value is True else f";{key}={_ser_bare(value)}"
    return out


def serialize_component(name: str, params: dict[str, Any]) -> str:
    return _ser_string(name) + _ser_params(params)


def serialize_params(components: list[Component], params: dict[str, Any]) -> str:
    inner = " ".join(serialize_component(n, p) for n, p in components)
    return f"({inner}){_ser_params(params)}"


# Derived components read straight off the request (RFC 9421 section 2.2).
_PLAIN_DERIVED: dict[str, Callable[[HttpMessage], str]] = {
    "@method": lambda m: m.method,
    "@target-uri": lambda m: m.target_uri,
    "@authority": lambda m: m.authority.lower(),
    "@scheme": lambda m: m.scheme.lower(),
    "@request-target": lambda m: m.target,
    "@path": lambda m: m.path,
    "@query": lambda m: "?" + m.query,
}


def _derived(name: str, params: dict[str, Any], msg: HttpMessage) -> str:
    if name == "@status":
        if msg.status is None:
            raise SignatureError("@status only applies to responses")
        return str(msg.status)
    if msg.status is not None and not params.get("req"):
        raise SignatureError(f"{name} is not available on a response")
    plain = _PLAIN_DERIVED.get(name)
    if plain is not None:
        return plain(msg)
    if name == "@query-param":
        return _query_param(params, msg)
    raise SignatureError(f"unknown derived component {name}")


def _query_param(params: dict[str, Any], msg: HttpMessage) -> str:
    wanted = params.get("name")
    if not isinstance(wanted, str):
        raise SignatureError("@query-param needs a name parameter")
    values = []
    for pair in msg.query.split("&"):
        if not pair:
            continue
        key, _, val = pair.partition("=")
        if unquote_plus(key) == wanted:
            values.append(quote(unquote_plus(val), safe=""))
    if len(values) != 1:
        raise SignatureError(f"query parameter {wanted} is absent or repeated")
    return values[0]


def _field(name: str, params: dict[str, Any], msg: HttpMessage) -> str:
    lines = msg.headers.get_all(name)
    if not lines:
        raise SignatureError(f"covered field {name} is missing")
    if "key" in params:
        try:
            joined = ", ".join(v.strip() for v in lines).encode()
            parsed: Any = http_sf.parse(joined, tltype="dictionary")
        except Exception as exc:
            raise SignatureError(f"field {name} is not a structured dictionary") from exc
        member = parsed.get(str(params["key"]))
        if member is None:
            raise SignatureError(f"field {name} has no member {params['key']}")
        return _ser_member(member)
    if params.get("bs"):
        return ", ".join(
            ":" + base64.b64encode(v.strip().encode()).decode() + ":" for v in lines
        )
    if params.get("sf"):
        raise SignatureError("the sf parameter is not supported")
    return ", ".join(v.strip() for v in lines)


def _ser_member(member: Any) -> str:
    value, params = member
    if isinstance(value, list):
        inner = " ".join(_ser_bare(v) + _ser_params(p) for v, p in value)
        return f"({inner}){_ser_params(params)}"
    return _ser_bare(value) + _ser_params(params)


def signature_base(
    msg: HttpMessage,
    components: list[Component],
    params: dict[str, Any],
    request: HttpMessage | None = None,
) -> str:
    lines = []
    seen = set()
    for name, cparams in components:
        ident = serialize_component(name, cparams)
        if ident in seen:
            raise SignatureError("a component is covered twice")
        seen.add(ident)
        source = msg
        if cparams.get("req"):
            if request is None:
                raise SignatureError("a ;req component needs the request")
            source = request
        if name.startswith("@"):
            value = _derived(name, cparams, source)
        else:
            value = _field(name, cparams, source)
        lines.append(f"{ident}: {value}")
    lines.append(f'"@signature-params": {serialize_params(components, params)}')
    return "\n".join(lines)


def build_headers(label: str, components: list[Component], params: dict[str, Any],
                  signature: bytes) -> list[tuple[str, str]]:
    return [
        ("Signature-Input", f"{label}={serialize_params(components, params)}"),
        ("Signature", f"{label}=:{base64.b64encode(signature).decode()}:"),
    ]
