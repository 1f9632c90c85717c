"""RFC 8785 (JSON Canonicalization Scheme) for the object proofs, fast for what we sign.

`rfc8785` serialises in Python, character by character: a federated decision (its
mandates and votes embedded, each with its proof) took milliseconds, twice per node on
the way down. For the JSON our nodes exchange (strings, small integers, no floats) the
standard library's C encoder, keys sorted and nothing escaped but what JCS escapes,
gives the same bytes. Whatever could differ takes `rfc8785` itself:

- a float anywhere (JCS writes numbers as ECMAScript does, Python's repr does not);
- an integer beyond ±(2**53 - 1) (JCS allows only what a double holds exactly);
- a character outside the Basic Multilingual Plane or a lone surrogate anywhere (JCS
  orders keys by UTF-16 code units and Python by code points: the two orders differ
  only for such characters);
- anything the encoder refuses (NaN, non-JSON types).

tests/test_jcs.py checks the two against each other on generated documents.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785

# UTF-8 writes a character outside the Basic Multilingual Plane with one of these first
# bytes, and cannot write a lone surrogate at all.
_FOUR_BYTE_LEADS = (b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")
_MAX_SAFE = 2**53 - 1


class _NotPlain(Exception):
    """The document holds something only rfc8785 writes right."""


def _no_float(text: str) -> float:
    raise _NotPlain


def _safe_int(text: str) -> int:
    value = int(text)
    if abs(value) > _MAX_SAFE:
        raise _NotPlain
    return value


def canonical(document: Any) -> bytes:
    """The RFC 8785 serialisation of `document` (a JSON value: str keys), as UTF-8."""
    try:
        text = json.dumps(document, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return rfc8785.dumps(document)
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate
        return rfc8785.dumps(document)
    if any(lead in data for lead in _FOUR_BYTE_LEADS):
        return rfc8785.dumps(document)
    try:
        # Read back in C: the hooks see each number's text, and only numbers.
        json.loads(text, parse_float=_no_float, parse_int=_safe_int)
    except _NotPlain:
        return rfc8785.dumps(document)
    return data
