"""Policy checks and key-independent preparation of an incoming signature."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from node.activitypub.httpsig import algorithms, cavage, rfc9421
from node.activitypub.httpsig.digest import check_content_digest, check_digest
from node.activitypub.httpsig.errors import SignatureError, WrongAuthority
from node.activitypub.httpsig.message import HttpMessage
from node.activitypub.keys import PublicKey

# Algorithms this node accepts on its inbox; the vectors exercise the others
# through `rfc9421` directly.
INBOX_ALGORITHMS = frozenset({"rsa-v1_5-sha256", "rsa-pss-sha512", "ed25519"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass
class Policy:
    max_age: int = 12 * 3600
    max_ahead: int = 3600
    clock: Callable[[], float] = time.time
    require_digest_on_post: bool = True
    allowed_algorithms: frozenset[str] = INBOX_ALGORITHMS
    # Accept a cavage signature over the bare path when the query was dropped by the signer.
    allow_query_quirk: bool = True
    # This server's own authorities (see `authorities_of`); when set, the signed `host` /
    # `@authority` must be one of them. Empty only where no server is involved (vectors).
    authorities: frozenset[str] = frozenset()

    def check_authority(self, authority: str) -> None:
        if self.authorities and authority.strip().lower() not in self.authorities:
            raise WrongAuthority(
                f"the request is signed for {authority or 'no host'}, not for this server")

    def check_time(self, when: float, what: str) -> None:
        now = self.clock()
        if when < now - self.max_age:
            raise SignatureError(f"{what} is too old (more than {self.max_age // 3600} h)")
        if when > now + self.max_ahead:
            raise SignatureError(f"{what} is in the future (more than {self.max_ahead // 60} min)")


def authorities_of(url: str) -> frozenset[str]:
    """The ways a request's Host can name the server at `url`: its host and port, with
    the scheme's default port written or left out."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = DEFAULT_PORTS.get(parts.scheme.lower())
    port = parts.port or default
    if port == default:
        return frozenset({host, f"{host}:{port}"})
    return frozenset({f"{host}:{port}"})


@dataclass
class PreparedSignature:
    scheme: str
    key_id: str
    alg: str | None
    signature: bytes
    candidates: list[bytes] = field(default_factory=list)
    allowed: frozenset[str] = INBOX_ALGORITHMS

    def verify(self, key: PublicKey) -> str:
        """Check the signature with `key`; returns the key id, raises SignatureError."""
        for alg in self._algorithms_for(key):
            if alg not in self.allowed:
                raise SignatureError(f"algorithm {alg} is not accepted")
            for data in self.candidates:
                if algorithms.verify(alg, key, self.signature, data):
                    return self.key_id
        raise SignatureError("signature does not verify with the signer's key")

    def _algorithms_for(self, key: PublicKey) -> list[str]:
        if self.scheme == "cavage":
            if isinstance(key, rsa.RSAPublicKey):
                return ["rsa-v1_5-sha256"]
            if isinstance(key, ed25519.Ed25519PublicKey) and self.alg in (None, "hs2019"):
                return ["ed25519"]
            raise SignatureError("key type does not fit the cavage algorithm")
        if self.alg is not None:
            return [self.alg]
        return algorithms.default_algorithms(key)


def prepare(msg: HttpMessage, policy: Policy | None = None) -> PreparedSignature:
    """Parse the request's signature and apply the policy; no key is needed yet."""
    policy = policy or Policy()
    if "signature-input" in msg.headers:
        return _prepare_rfc9421(msg, policy)
    if "signature" in msg.headers:
        return _prepare_cavage(msg.headers.get("signature") or "", msg, policy)
    auth = msg.headers.get("authorization")
    if auth and auth.lower().startswith("signature "):
        return _prepare_cavage(auth, msg, policy)
    raise SignatureError("request is not signed")


def _prepare_cavage(value: str, msg: HttpMessage, policy: Policy) -> PreparedSignature:
    params = cavage.parse_params(value)
    if params.algorithm is not None and params.algorithm not in cavage.ALGORITHMS:
        raise SignatureError(f"algorithm {params.algorithm} is not accepted")
    signed = set(params.headers)
    if "(request-target)" not in signed:
        raise SignatureError("(request-target) must be signed")
    if "host" not in signed:
        raise SignatureError("host must be signed")
    # The value the signing string will carry for `host`.
    host = msg.headers.combined("host") if "host" in msg.headers else msg.authority
    policy.check_authority(host or "")
    if ("(created)" in signed or "(expires)" in signed) and params.algorithm != "hs2019":
        raise SignatureError("(created)/(expires) are only allowed with hs2019")
    if "date" in signed:
        policy.check_time(_parse_date(msg.headers.get("date")), "Date")
    elif "(created)" in signed and params.created is not None:
        policy.check_time(params.created, "created")
    else:
        raise SignatureError("date must be signed")
    if params.expires is not None and params.expires < policy.clock():
        raise SignatureError("signature has expired")
    if msg.method.upper() == "POST" and policy.require_digest_on_post:
        if "digest" not in signed:
            raise SignatureError("digest must be signed on POST")
        check_digest(msg.headers.get("digest") or "", msg.body)
    candidates = [cavage.signing_string(params, msg).encode()]
    if policy.allow_query_quirk and msg.query:
        candidates.append(cavage.signing_string(params, msg, target=msg.path).encode())
    return PreparedSignature(
        "cavage", params.key_id, params.algorithm, params.signature, candidates,
        policy.allowed_algorithms,
    )


def _parse_date(value: str | None) -> float:
    if not value:
        raise SignatureError("Date header is missing")
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise SignatureError("Date header is not an HTTP date") from exc
    if parsed.tzinfo is None:
        raise SignatureError("Date header is not an HTTP date")
    return parsed.timestamp()


def _prepare_rfc9421(msg: HttpMessage, policy: Policy) -> PreparedSignature:
    sig = rfc9421.parse_signatures(msg)[0]
    if sig.key_id is None:
        raise SignatureError("signature has no keyid")
    if sig.alg is not None and sig.alg not in policy.allowed_algorithms:
        raise SignatureError(f"algorithm {sig.alg} is not accepted")
    created = sig.params.get("created")
    if not isinstance(created, int):
        raise SignatureError("created is required")
    policy.check_time(created, "created")
    expires = sig.params.get("expires")
    if isinstance(expires, int) and expires < policy.clock():
        raise SignatureError("signature has expired")
    if not sig.covers("@method"):
        raise SignatureError("@method must be covered")
    if not (sig.covers("@target-uri") or (sig.covers("@authority") and sig.covers("@path"))):
        raise SignatureError("@target-uri (or @authority and @path) must be covered")
    # Both components are built from the message's authority.
    policy.check_authority(msg.authority)
    if msg.method.upper() == "POST" and policy.require_digest_on_post:
        if not sig.covers("content-digest"):
            raise SignatureError("content-digest must be covered on POST")
        check_content_digest(msg.headers.combined("content-digest") or "", msg.body)
    base = rfc9421.signature_base(msg, sig.components, sig.params)
    return PreparedSignature(
        "rfc9421", sig.key_id, sig.alg, sig.signature, [base.encode()], policy.allowed_algorithms
    )
