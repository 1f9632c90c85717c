"""RSA keys for the in-process tests, made once per worker and handed out again.

Making a 2048-bit RSA key costs about 40 ms of CPU here, and the suite makes
hundreds (every body of every in-process node, every made-up remote actor). Keys
are drawn in order from a pool that grows as needed, and the pool is rewound at the
start of each test, so within a test every key is new (an impostor's key never
equals its victim's) while the next test reuses the same ones. A key taken by
something that outlives one test (a fixture of module or session scope, or code
run outside any test) is kept out of the rewinding: no later test is handed it.
Node processes make their own keys, as in production."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub import keys


class KeyPool:
    def __init__(self) -> None:
        self._made: list[rsa.RSAPrivateKey] = []
        self._next = 0
        self._make = keys.generate_rsa
        self._kept: set[int] = set()  # indices held beyond one test
        self._in_test = False
        self._wider = 0  # fixtures of a wider scope being set up just now

    def take(self) -> rsa.RSAPrivateKey:
        while self._next in self._kept:
            self._next += 1
        if self._next == len(self._made):
            self._made.append(self._make())
        taken = self._next
        self._next += 1
        if not self._in_test or self._wider:
            self._kept.add(taken)
        return self._made[taken]

    @property
    def made(self) -> int:
        return len(self._made)

    def start_test(self) -> None:
        self._next = 0
        self._in_test = True

    def end_test(self) -> None:
        self._in_test = False

    @contextmanager
    def wider_fixture(self) -> Iterator[None]:
        self._wider += 1
        try:
            yield
        finally:
            self._wider -= 1


POOL = KeyPool()


def install() -> None:
    """Every caller reaches the generator through the module (`keys.generate_rsa()`)."""
    keys.generate_rsa = POOL.take
