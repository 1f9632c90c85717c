"""FEP-8b32 / eddsa-jcs-2022 and FEP-521a vectors."""

from __future__ import annotations

import copy
import json

import pytest

from node.activitypub import keys
from node.activitypub.proofs import ProofError, sign_object, verify_object
from tests.helpers import ed25519_key
from tests.vectorlib import VECTORS, load

FEP = load("fep8b32/fep-8b32-vectors.json")
W3C = VECTORS / "fep8b32" / "w3c-eddsa-jcs-2022"


def test_fep8b32_signing_reproduces_the_proof() -> None:
    secret = keys.decode_multibase_secret(FEP["secret_key_multibase"])
    assert keys.ed25519_multibase(secret.public_key()) == FEP["public_key_multibase"]
    signed = sign_object(FEP["unsigned_document"], secret, FEP["verification_method"],
                         created=FEP["created"])
    assert signed["proof"]["proofValue"] == FEP["expected_proof_value"]
    assert signed == FEP["expected_signed_document"]


def test_fep8b32_signed_document_verifies_and_tampering_fails() -> None:
    public = ed25519_key(FEP["public_key_multibase"])
    doc = FEP["expected_signed_document"]
    assert verify_object(doc, public) == FEP["verification_method"]
    tampered = copy.deepcopy(doc)
    tampered["object"]["content"] = "Goodbye world"
    with pytest.raises(ProofError):
        verify_object(tampered, public)


def test_fep8b32_feature_file_documents() -> None:
    signed = load("fep8b32/fep-8b32-signed.json")
    actor = load("fep8b32/fep-8b32-actor.json")
    method = actor["assertionMethod"][0]
    public = ed25519_key(method["publicKeyMultibase"])
    assert verify_object(signed, public) == method["id"]


def test_w3c_eddsa_jcs_2022_vector() -> None:
    pair = json.loads((W3C / "keyPair.json").read_text())
    secret = keys.decode_multibase_secret(pair["privateKeyMultibase"])
    unsigned = json.loads((W3C / "unsigned.json").read_text())
    config = json.loads((W3C / "proofConfigJCS.json").read_text())
    signed = json.loads((W3C / "signedJCS.json").read_text())
    mine = sign_object(unsigned, secret, config["verificationMethod"], created=config["created"])
    assert mine["proof"]["proofValue"] == signed["proof"]["proofValue"]
    assert mine["proof"]["proofValue"] == (W3C / "sigBTC58JCS.txt").read_text().strip()
    public = ed25519_key(pair["publicKeyMultibase"])
    assert verify_object(signed, public) == config["verificationMethod"]


def test_fep521a_multikeys() -> None:
    vec = load("fep8b32/fep-521a/fep-521a-vectors.json")
    for case in vec["vectors"]:
        expected = case["expected_multikey"]["publicKeyMultibase"]
        if case["key_type"] == "ed25519-pub":
            from cryptography.hazmat.primitives.asymmetric import ed25519
            key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(case["public_key_hex"]))
            assert keys.ed25519_multibase(key) == expected
        else:
            from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
            from cryptography.hazmat.primitives.serialization import load_der_public_key
            decoded = keys.decode_multibase_public(expected)
            assert isinstance(decoded, RSAPublicKey), type(decoded)
            assert keys.rsa_multibase(decoded) == expected
            assert isinstance(decoded, type(load_der_public_key(
                keys._pkcs1_to_spki(bytes.fromhex(case["public_key_pkcs1_der_hex"])))))
