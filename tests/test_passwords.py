"""Password hashing: the standard cost is argon2id at RFC 9106's low-memory profile;
the test cost (COMUNA_PASSWORD_COST=test, which this suite runs with) only changes
the price, and each cost checks the other's hashes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from argon2 import extract_parameters

from node.governance import passwords


def test_the_suite_runs_at_the_test_cost() -> None:
    # conftest sets it before anything of the node is imported, for the node
    # processes the tests start too.
    assert os.environ["COMUNA_PASSWORD_COST"] == "test"
    assert passwords.COST == "test"


def test_the_standard_cost_is_rfc9106_low_memory_and_checks_both() -> None:
    standard = passwords._hasher_for("standard")
    cheap = passwords._hasher_for("test")
    hashed = standard.hash("una-contraseña-larga")
    params = extract_parameters(hashed)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (3, 65536, 4)
    assert extract_parameters(cheap.hash("x")).memory_cost < 1024
    # A hash carries its parameters: either hasher verifies the other's.
    assert cheap.verify(hashed, "una-contraseña-larga")
    assert standard.verify(cheap.hash("otra-contraseña"), "otra-contraseña")


def test_matches_says_no_for_wrong_passwords_and_foreign_hashes() -> None:
    hashed = passwords.hash_password("contraseña-buena")
    assert passwords.matches(hashed, "contraseña-buena")
    assert not passwords.matches(hashed, "contraseña-mala")
    assert not passwords.matches("not an argon2 hash", "contraseña-buena")


def test_an_unknown_cost_stops_the_process_with_its_name() -> None:
    with pytest.raises(ValueError, match="COMUNA_PASSWORD_COST"):
        passwords._hasher_for("cheap")
    env = {**os.environ, "COMUNA_PASSWORD_COST": "fast"}
    run = subprocess.run([sys.executable, "-c", "import node.governance.passwords"],
                         env=env, capture_output=True, text=True)
    assert run.returncode != 0 and "standard, test" in run.stderr


def test_a_node_started_at_the_test_cost_says_so() -> None:
    env = {**os.environ, "COMUNA_PASSWORD_COST": "test"}
    run = subprocess.run([sys.executable, "-c",
                          "from node.governance.passwords import warn_if_cheap; warn_if_cheap()"],
                         env=env, capture_output=True, text=True)
    assert "never for real accounts" in run.stderr
    env["COMUNA_PASSWORD_COST"] = "standard"
    run = subprocess.run([sys.executable, "-c",
                          "from node.governance.passwords import warn_if_cheap; warn_if_cheap()"],
                         env=env, capture_output=True, text=True)
    assert run.stderr == ""
