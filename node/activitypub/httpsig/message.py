"""A transport-neutral view of an HTTP message, enough to rebuild signature bases."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit


class Headers:
    """Case-insensitive, order-preserving, multi-valued header list."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = [(k.lower(), v) for k, v in items]

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self._items if k == name]

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def combined(self, name: str) -> str | None:
        """Field value as RFC 9110 combines repeated lines: trimmed, joined with ', '."""
        values = self.get_all(name)
        if not values:
            return None
        return ", ".join(v.strip() for v in values)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k == name.lower() for k, _ in self._items)

    def add(self, name: str, value: str) -> None:
        self._items.append((name.lower(), value))

    def items(self) -> list[tuple[str, str]]:
        return list(self._items)


@dataclass
class HttpMessage:
    """A request (method set) or a response (status set).

    `target` is the request target as sent: path plus optional '?query'.
    """

    method: str = ""
    target: str = "/"
    authority: str = ""
    scheme: str = "https"
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    status: int | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0] or "/"

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""

    @property
    def target_uri(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"

    @classmethod
    def request(
        cls,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> HttpMessage:
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        return cls(
            method=method.upper(),
            target=target,
            authority=parts.netloc.lower(),
            scheme=parts.scheme.lower(),
            headers=Headers(headers),
            body=body,
        )
