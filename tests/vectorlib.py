"""Helpers to read the public test vectors kept in tests/vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from node.activitypub.httpsig.message import Headers, HttpMessage

VECTORS = Path(__file__).parent / "vectors"


def load(rel: str) -> Any:
    return json.loads((VECTORS / rel).read_text("utf-8"))


def parse_raw(raw: str, scheme: str = "https") -> HttpMessage:
    """Parse an HTTP/1.1 message printed with LF line ends, as the vectors store them."""
    head, _, body = raw.partition("\n\n")
    lines = head.split("\n")
    start = lines[0].split(" ", 2)
    headers = Headers()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    if start[0].startswith("HTTP/"):
        return HttpMessage(status=int(start[1]), headers=headers, body=body.encode(),
                           scheme=scheme)
    return HttpMessage(
        method=start[0], target=start[1], authority=(headers.get("host") or "").lower(),
        scheme=scheme, headers=headers, body=body.encode(),
    )
