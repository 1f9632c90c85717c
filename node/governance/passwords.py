"""How passwords are hashed and checked: argon2id, one hasher for the process.

The cost is argon2-cffi's RFC 9106 low-memory profile (64 MiB, 3 passes), a good
fraction of a second on the small machines nodes run on. `COMUNA_PASSWORD_COST=test`
swaps in a cost of microseconds so a test suite that creates hundreds of accounts
does not spend its minutes hashing; it is read from the environment only (hashing
happens outside any one node's settings, in the CLI and the tests' fixtures too) and
a node started with it says so in its log. A hash records its own parameters, so
either cost checks the other's hashes.
"""

from __future__ import annotations

import os
import sys

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

COSTS = ("standard", "test")


def _hasher_for(cost: str) -> PasswordHasher:
    if cost == "test":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, hash_len=16,
                              salt_len=16)
    if cost == "standard":
        return PasswordHasher()
    raise ValueError(f"COMUNA_PASSWORD_COST must be one of {', '.join(COSTS)}, not {cost!r}")


COST = os.environ.get("COMUNA_PASSWORD_COST", "") or "standard"
_hasher = _hasher_for(COST)


def warn_if_cheap() -> None:
    """Called at a node's start: a production node must never run at the test cost."""
    if COST != "standard":
        print(f"warning: passwords are hashed at the {COST!r} cost (COMUNA_PASSWORD_COST): "
              "for test suites only, never for real accounts", file=sys.stderr)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def matches(password_hash: str, password: str) -> bool:
    """True when the password is the one hashed; False for a wrong one or a hash that
    is not an argon2 hash at all (an account imported without a password)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
