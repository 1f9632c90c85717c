"""Connect-time address guard: refuses private, loopback and link-local peers.

The check runs on the addresses actually dialled (after DNS), so a hostname that
resolves to an internal address, or a redirect to one, is refused the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore


class BlockedAddress(Exception):
    status = 400


def address_allowed(ip: str, allow_private: bool) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_unspecified or addr.is_multicast:
        return False
    if allow_private:
        return True
    return addr.is_global


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[str]:
    """Resolve `host` and return its addresses, refusing if any of them is not allowed."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc}") from exc
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


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore network backend that dials only checked addresses."""

    def __init__(self, allow_private: bool) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addrs = await resolve_checked(host, port, self._allow_private)
        last: Exception | None = None
        for addr in addrs:
            try:
                return await self._inner.connect_tcp(
                    addr, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddress("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
