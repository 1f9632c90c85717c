"""The fast RFC 8785 serialisation (node/activitypub/jcs.py) gives rfc8785's bytes on any
JSON document, and refuses what rfc8785 refuses."""

from __future__ import annotations

from typing import Any

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from node.activitypub.jcs import canonical

# Every character, lone surrogates and control characters included.
ANY_CHAR = st.characters(blacklist_categories=())
TEXT = st.text(ANY_CHAR, max_size=12) | st.sampled_from(
    ["", "ñandú", "\u2028", "\x7f", "\x00\x1f", "\ud83d", "😀", "\ue000", "\"\\/"])
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
           | st.floats(allow_nan=False, allow_infinity=False) | TEXT)
DOCS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20)


def both(doc: Any) -> tuple[Any, Any]:
    def run(f: Any) -> Any:
        try:
            return f(doc)
        except Exception as exc:  # noqa: BLE001
            return type(exc)
    return run(canonical), run(rfc8785.dumps)


@settings(max_examples=400, deadline=None)
@given(DOCS)
def test_the_same_bytes_as_rfc8785_on_any_document(doc: Any) -> None:
    fast, reference = both(doc)
    assert fast == reference


def test_the_same_bytes_on_what_nodes_sign() -> None:
    """Documents of the shape our proofs cover, with the cases the fast path leaves to
    rfc8785 (a float, a large integer, an emoji key) beside one it takes."""
    docs: list[Any] = [
        {"@context": ["https://www.w3.org/ns/activitystreams"], "type": "Note",
         "content": "Asamblea del <b>jueves</b>\n«agua»", "n": 3, "ok": True, "x": None},
        {"a": 1.5, "b": [1e21, 1e-7, -0.0]},
        {"big": 2**53, "small": -(2**53)},
        {"😀": 1, "\ue000": 2, "b": {"\U0001f600x": "y"}},
    ]
    for doc in docs:
        fast, reference = both(doc)
        assert fast == reference, doc
    # The first takes the fast path and is what rfc8785 writes, byte for byte.
    assert canonical(docs[0]) == rfc8785.dumps(docs[0]) == (
        '{"@context":["https://www.w3.org/ns/activitystreams"],"content":"Asamblea del '
        '<b>jueves</b>\\n«agua»","n":3,"ok":true,"type":"Note","x":null}').encode()
