"""RSA keys for the in-process tests, made once per worker and handed out again.

Making a 2048-bit RSA key costs about 40 ms of CPU here, and the suite makes
hundreds (every body of every in-process node, every made-up remote actor). Keys
are drawn in order from a pool that grows as needed; the pool is rewound at the
start of each test module, so within a module every key is new (an impostor's key
never equals its victim's) while the next module reuses the same ones. Node
processes make their own keys, as in production."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from node.activitypub import keys


class KeyPool:
    def __init__(self) -> None:
        self._made: list[rsa.RSAPrivateKey] = []
        self._next = 0
        self._make = keys.generate_rsa

    def take(self) -> rsa.RSAPrivateKey:
        if self._next == len(self._made):
            self._made.append(self._make())
        key = self._made[self._next]
        self._next += 1
        return key

    def rewind(self) -> None:
        self._next = 0


POOL = KeyPool()


def install() -> None:
    """Every caller reaches the generator through the module (`keys.generate_rsa()`)."""
    keys.generate_rsa = POOL.take
