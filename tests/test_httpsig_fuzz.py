"""Malformed signature headers must end in SignatureError (a 401), never a crash (a 500)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from node.activitypub.httpsig import HttpMessage, SignatureError, prepare
from node.activitypub.keys import generate_ed25519

KEY = generate_ed25519().public_key()
text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)
pieces = st.sampled_from([
    'keyId="https://a.example/u#k"', 'algorithm="rsa-sha256"', 'algorithm="hs2019"',
    'headers="(request-target) host date digest"', 'headers="(created)"', 'signature="AAAA"',
    'signature="!!"', "created=abc", "expires=1", 'headers=""', ",", "=", '"',
    'sig1=("@method" "@target-uri");created=1;keyid="k"', "sig1=:AAAA:", "sig1=()",
    'sig1=("@query-param";name="x")', "sig1=?1", 'sig1=("content-digest")',
])


def _msg(headers: list[tuple[str, str]]) -> HttpMessage:
    return HttpMessage.request("POST", "https://node.example/inbox?x=1", headers, b"{}")


@settings(max_examples=300, deadline=None)
@given(sig=st.lists(st.one_of(pieces, text), max_size=6).map(",".join),
       date=st.one_of(text, st.just("Tue, 20 Apr 2021 02:07:55 GMT")),
       digest=st.one_of(text, st.just("SHA-256=RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=")))
def test_cavage_garbage_is_refused_cleanly(sig: str, date: str, digest: str) -> None:
    msg = _msg([("Signature", sig), ("Date", date), ("Digest", digest), ("Host", "x")])
    try:
        prepare(msg).verify(KEY)
    except SignatureError:
        return
    raise AssertionError("garbage verified")


@settings(max_examples=300, deadline=None)
@given(inp=st.lists(st.one_of(pieces, text), max_size=4).map(", ".join),
       sig=st.one_of(pieces, text), cd=text)
def test_rfc9421_garbage_is_refused_cleanly(inp: str, sig: str, cd: str) -> None:
    msg = _msg([("Signature-Input", inp), ("Signature", sig), ("Content-Digest", cd)])
    try:
        prepare(msg).verify(KEY)
    except SignatureError:
        return
    raise AssertionError("garbage verified")
