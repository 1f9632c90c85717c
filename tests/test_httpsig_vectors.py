"""Every public vector for RFC 9421 and draft-cavage-12 (incl. Mastodon's recorded requests)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

import pytest

from node.activitypub.httpsig import Policy, SignatureError, algorithms, prepare, rfc9421
from node.activitypub.httpsig.cavage import parse_params, signing_string
from node.activitypub.httpsig.message import HttpMessage
from node.activitypub.keys import PrivateKey, PublicKey, load_private_pem, load_public_pem
from tests.vectorlib import VECTORS, load, parse_raw

RFC = load("rfc9421/cases.json")
KEYDIR = VECTORS / "rfc9421" / "keys"


def _public(key_id: str) -> PublicKey:
    if key_id == "test-shared-secret":
        return base64.b64decode((KEYDIR / "test-shared-secret.b64.txt").read_text().strip())
    return load_public_pem((KEYDIR / f"{key_id}.pub.pem").read_bytes())


def _private(key_id: str) -> PrivateKey:
    if key_id == "test-shared-secret":
        return base64.b64decode((KEYDIR / "test-shared-secret.b64.txt").read_text().strip())
    return load_private_pem((KEYDIR / f"{key_id}.priv.pem").read_bytes())


def _case_message(case: dict[str, Any]) -> HttpMessage:
    msg = parse_raw(case.get("signed_message") or case["message"])
    if "signature-input" not in msg.headers:
        msg.headers.add("Signature-Input", case["signature_input"])
        msg.headers.add("Signature", case["signature"])
    return msg


@pytest.mark.parametrize("case", RFC["cases"], ids=[c["name"] for c in RFC["cases"]])
def test_rfc9421_vector(case: dict[str, Any]) -> None:
    msg = _case_message(case)
    request = parse_raw(case["request_message"]) if case.get("request_message") else None
    sigs = {s.label: s for s in rfc9421.parse_signatures(msg)}
    sig = sigs[case["label"]]
    assert rfc9421.serialize_params(sig.components, sig.params) == case[
        "signature_params_serialized"
    ]
    try:
        base = rfc9421.signature_base(msg, sig.components, sig.params, request=request)
    except SignatureError:
        assert not case["expected_valid"]
        return
    if case["expected_signature_base"] is not None:
        assert base == case["expected_signature_base"]
    key = _public(case["key_id"])
    ok = algorithms.verify(case["alg"], key, sig.signature, base.encode())
    assert ok is case["expected_valid"]
    if case["deterministic"] and case["expected_valid"]:
        resigned = algorithms.sign(case["alg"], _private(case["key_id"]), base.encode())
        assert resigned == sig.signature


def test_rfc9421_vectors_cover_both_outcomes() -> None:
    outcomes = {c["expected_valid"] for c in RFC["cases"]}
    assert outcomes == {True, False}


CAV = load("cavage12/cases.json")


def _cavage_key() -> PublicKey:
    return load_public_pem((VECTORS / "cavage12/keys/test-rsa-1024.pub.pem").read_bytes())


@pytest.mark.parametrize("case", CAV["cases"], ids=[c["name"] for c in CAV["cases"]])
def test_cavage_draft_vector(case: dict[str, Any]) -> None:
    req = parse_raw(CAV["request"])
    raw = case.get("signature_header") or case["authorization_header"]
    header = raw.split(":", 1)[1].strip()
    params = parse_params(header)
    if params.headers and set(params.headers) & {"(created)", "(expires)"}:
        # C.3: the signature does not cover what its own headers parameter lists...
        per_param = signing_string(params, req)
        assert per_param == case["signing_string_per_headers_param"]
        assert not algorithms.verify("rsa-v1_5-sha256", _cavage_key(), params.signature,
                                     per_param.encode())
        # ...only the printed string, which leaves out (created) and (expires).
        printed = case["signing_string"]
        assert algorithms.verify("rsa-v1_5-sha256", _cavage_key(), params.signature,
                                 printed.encode())
        return
    built = signing_string(params, req)
    assert built == case["signing_string"]
    assert algorithms.verify("rsa-v1_5-sha256", _cavage_key(), params.signature, built.encode())


MASTO = load("cavage12/mastodon/cases.json")


@pytest.mark.parametrize("case", MASTO["cases"], ids=[c["name"] for c in MASTO["cases"]])
def test_mastodon_recorded_request(case: dict[str, Any]) -> None:
    msg = parse_raw(case["request"])
    when = datetime.fromisoformat(MASTO["verification_time"].replace("Z", "+00:00")).timestamp()
    key = load_public_pem((VECTORS / "cavage12/mastodon/remote-bob.pub.pem").read_bytes())
    policy = Policy(clock=lambda: when)
    try:
        prepared = prepare(msg, policy)
        assert prepared.key_id == case["key_id"]
        prepared.verify(key)
        accepted = True
    except SignatureError:
        accepted = False
    assert accepted is case["mastodon_accepts"], case["reason"]


def test_mastodon_signed_strings_match_our_rebuild() -> None:
    for case in MASTO["cases"]:
        if not case["signature_verifies_over_string_rebuilt_from_request"]:
            continue
        msg = parse_raw(case["request"])
        params = parse_params(case["signature_header"])
        assert signing_string(params, msg) == case["signing_string_signed"]
