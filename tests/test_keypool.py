"""The suite's pool of RSA keys (tests/keypool.py): within a test every key is new, the
next test reuses them, and a key held by a fixture that outlives a test is never
handed to a later one, so an impostor's key never equals its victim's."""

from __future__ import annotations

import itertools

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub import keys
from tests.keypool import KeyPool

FIRST: list[rsa.RSAPrivateKey] = []


def _counting_pool() -> KeyPool:
    pool = KeyPool()
    numbers = itertools.count()
    pool._make = lambda: next(numbers)  # type: ignore[assignment, return-value]
    return pool


def test_a_rewound_pool_hands_out_the_same_keys_in_order_and_never_a_kept_one() -> None:
    pool = _counting_pool()
    pool.take()  # outside any test: kept for good
    pool.start_test()
    first: list[object] = [pool.take() for _ in range(3)]
    pool.end_test()
    with pool.wider_fixture():  # a module's fixture made during the next test
        pool.start_test()
        kept: object = pool.take()
    second: list[object] = [pool.take() for _ in range(4)]
    assert first == [1, 2, 3]
    assert kept == 1 and second == [2, 3, 4, 5]  # 0 and 1 are held beyond their test
    pool.start_test()
    third: list[object] = [pool.take() for _ in range(2)]
    assert third == [2, 3]
    assert pool.made == 6


@pytest.fixture(scope="module")
def held() -> rsa.RSAPrivateKey:
    return keys.generate_rsa()


def test_keys_of_one_test_differ_from_each_other_and_from_a_module_fixture(
        held: rsa.RSAPrivateKey) -> None:
    mine = [keys.generate_rsa() for _ in range(3)]
    numbers = {k.private_numbers().p for k in [held, *mine]}
    assert len(numbers) == 4
    FIRST[:] = mine


def test_the_next_test_reuses_them_but_not_the_module_fixture(
        held: rsa.RSAPrivateKey) -> None:
    assert FIRST, "runs after the test above, in the same worker (one module, one unit)"
    mine = [keys.generate_rsa() for _ in range(3)]
    assert mine == FIRST
    assert held not in mine
