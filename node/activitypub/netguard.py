"""Connect-time address guard: refuses private, loopback and link-local peers.

The check runs on the addresses actually dialled (after DNS), so a hostname that
resolves to an internal address, or a redirect to one, is refused the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable


class BlockedAddress(Exception):
    status = 400


class Unresolvable(OSError):
    """The name did not resolve. `permanent` when DNS answered that it does not exist;
    otherwise (no answer, server failure) it may resolve on a later try."""

    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


# IPv6 forms that carry an IPv4 address in their low 32 bits and reach (or are
# translated to) that IPv4 host: IPv4-compatible (::a.b.c.d, deprecated but still
# dialable on some stacks), SIIT-translated (::ffff:0:a.b.c.d) and NAT64's well-known
# prefix (64:ff9b::/96). `ipaddress` calls them all global, so a peer could name
# 127.0.0.1 or 10.0.0.1 through them.
_EMBEDDING_96 = (
    ipaddress.IPv6Network("::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
    ipaddress.IPv6Network("64:ff9b::/96"),
)
# NAT64 for local use (RFC 8215): where the IPv4 sits depends on the operator's prefix
# length, and it is never a public destination.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:  # 2002:AABB:CCDD::/48 is 6to4 for A.B.C.D
        return addr.sixtofour
    if int(addr) >> 1 == 0:
        return None  # :: and ::1 are themselves, not IPv4-compatible 0.0.0.x
    for net in _EMBEDDING_96:
        if addr in net:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_allowed(ip: str, allow_private: bool) -> bool:
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(
        ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if not allow_private and addr in _LOCAL_NAT64:
            return False
        embedded = _embedded_ipv4(addr)
        if embedded is not None:
            addr = embedded
    if addr.is_unspecified or addr.is_multicast:
        return False
    if allow_private:
        return True
    return addr.is_global


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and return its addresses, refusing if any of them is not allowed.
    An IP literal is checked as it is, without a lookup."""
    literal = _literal_ip(host)
    if literal is not None:
        if not address_allowed(literal, allow_private):
            raise BlockedAddress(f"{literal} is a non-public address")
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        permanent = exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None))
        raise Unresolvable(f"cannot resolve {host}: {exc}", permanent) from exc
    addrs = _unique(str(info[4][0]) for info in infos)
    bad = [a for a in addrs if not address_allowed(a, allow_private)]
    if bad or not addrs:
        raise BlockedAddress(f"{host} resolves to a non-public address ({', '.join(bad)})")
    return addrs


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


def _literal_ip(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None
