"""The suite's fork server (tests/forkserver.py) starts `comuna` commands as processes of
their own: each with its own environment, output and exit status, and a fresh
interpreter when the zygote's imports could not honour the environment asked for."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from node.demo.nodes import free_port
from tests import forkserver

pytestmark = pytest.mark.skipif(not forkserver.ENABLED, reason="COMUNA_TEST_FORK=0: "
                                "every node starts a fresh interpreter, nothing to test")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "COMUNA_DATA_DIR"}
    return {**env, **extra}


def test_a_forked_command_has_its_own_environment_output_and_exit_status(
        tmp_path: Path) -> None:
    data = tmp_path / "maizal"
    data.mkdir()
    init = forkserver.start(["init", "--data-dir", str(data), "--url",
                             f"http://127.0.0.1:{free_port()}", "--handle", "maizal",
                             "--name", "Maizal", "--level", "commune"],
                            _env(), tmp_path / "init.log")
    assert isinstance(init, forkserver.Forked)
    assert init.wait(60) == 0, (tmp_path / "init.log").read_text()
    assert "Node ready: @maizal" in (tmp_path / "init.log").read_text()

    # No --data-dir: the command finds the node through the environment it was given,
    # which neither this process nor the zygote has.
    status = forkserver.start(["status", "--json"], _env(COMUNA_DATA_DIR=str(data)),
                              tmp_path / "status.log")
    assert status.wait(60) == 0, (tmp_path / "status.log").read_text()
    assert json.loads((tmp_path / "status.log").read_text())["node"]["handle"] == "maizal"

    wrong = forkserver.start(["no-such-command"], _env(), tmp_path / "wrong.log")
    assert wrong.wait(60) == 2
    assert "invalid choice" in (tmp_path / "wrong.log").read_text()


def test_a_forked_node_ends_by_the_signal_it_is_sent(tmp_path: Path) -> None:
    data = tmp_path / "cerro"
    data.mkdir()
    port = free_port()
    assert forkserver.start(["init", "--data-dir", str(data), "--url",
                             f"http://127.0.0.1:{port}", "--handle", "cerro", "--name",
                             "Cerro", "--level", "commune"], _env(),
                            tmp_path / "init.log").wait(60) == 0
    node = forkserver.start(["serve", "--data-dir", str(data), "--port", str(port)], _env(),
                            tmp_path / "serve.log")
    with pytest.raises(subprocess.TimeoutExpired):
        node.wait(0.5)
    assert node.poll() is None
    node.kill()
    assert node.wait(30) == -signal.SIGKILL
    node.kill()  # once it has ended, signalling it again does nothing (its pid is gone)


def test_an_environment_the_zygote_cannot_honour_gets_a_fresh_interpreter(
        tmp_path: Path) -> None:
    other = "standard" if os.environ.get("COMUNA_PASSWORD_COST") == "test" else "test"
    child = forkserver.start(["no-such-command"], _env(COMUNA_PASSWORD_COST=other),
                             tmp_path / "fresh.log")
    assert isinstance(child, subprocess.Popen)
    assert child.wait(60) == 2
