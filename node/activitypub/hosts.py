"""What a "host" is, for every table and cache keyed by one.

`remote_actor.host`, `delivery.host`, `peer_host.host`, the key-fetch throttle and the
directory's caches all mean the same thing: the authority a peer is reached at,
`host_key(...)`. Two servers on one name with different ports are different peers
(the test suite runs many on 127.0.0.1); an explicit default port is no different
from none, so `https://a.example:443/x` and `https://a.example/x` are one host.

A facilitator may name a host either way: a bare name ("a.example") means every
port of it, "a.example:8443" only that one (`matches`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

DEFAULT_PORTS = (80, 443)


def _split(value: str) -> tuple[str, int | None]:
    text = value.strip()
    if "://" not in text:
        if text.count(":") > 1 and not text.startswith("["):
            text = f"[{text}]"  # a bare IPv6 address, without brackets or port
        text = "//" + text
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower().rstrip("."), port


def _bracketed(hostname: str) -> str:
    return f"[{hostname}]" if ":" in hostname else hostname


def host_key(value: str) -> str:
    """The host of a URL, or of "name[:port]" as a person writes it: lowercase, IPv6
    bracketed, port kept unless it is 80 or 443."""
    hostname, port = _split(value)
    if not hostname:
        return ""
    if port is None or port in DEFAULT_PORTS:
        return _bracketed(hostname)
    return f"{_bracketed(hostname)}:{port}"


def hostname_of(value: str) -> str:
    """The name alone (no port), bracketed if IPv6: what a bare-host rule covers."""
    return _bracketed(_split(value)[0])


def names_every_port(host: str) -> bool:
    """True when a facilitator's "host" carries no port (so it covers all of them)."""
    return host_key(host) == hostname_of(host)


def matches(host: str) -> Callable[[str], bool]:
    """A test for URLs (or host keys) that `host` designates: a bare name any port of
    it, "name:port" that one only."""
    key = host_key(host)
    if names_every_port(host):
        return lambda value: hostname_of(value) == key
    return lambda value: host_key(value) == key
