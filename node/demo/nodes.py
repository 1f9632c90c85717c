"""The demo's node processes: made with `comuna init`, run with `comuna serve`, each on
its own loopback port and data directory, and always stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx


class DemoFailed(Exception):
    """The demo cannot go on; the message says why, for the person who ran it."""


def _die_with_parent() -> None:
    """In the child, before `serve` starts (Linux): if the demo itself is killed
    outright, the kernel ends its nodes too, so nothing is left running."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


_GIVEN: set[int] = set()
# What the shell that started the demo may have set and no demo node may use: each node
# keeps its own SQLite file in its own folder.
_OUTSIDE = ("COMUNA_DATABASE_URL", "COMUNA_DATA_DIR")
# The demo's own uses of the node's code (init, invite) go one at a time: Alembic keeps
# its state in the module, and settings are read from this process's environment.
_IN_PROCESS = threading.Lock()
_T = TypeVar("_T")


def _in_process(what: str, step: Callable[[], _T]) -> _T:
    """A `comuna` step run here, with the environment its nodes get: never an outside
    database or data directory, whatever the shell that started the demo had set."""
    saved = {k: os.environ.pop(k) for k in _OUTSIDE if k in os.environ}
    try:
        return step()
    except Exception as exc:  # what the person reads instead of a traceback
        raise DemoFailed(f"{what} falló: {type(exc).__name__}: {str(exc)[-500:]}") from exc
    finally:
        os.environ.update(saved)


def free_port() -> int:
    """A loopback port free now, never handed out twice: the kernel may give the same
    free port to two binds in a row, and two nodes would then race for it."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


@dataclass
class DemoNode:
    handle: str
    name: str
    level: str
    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.url}/actors/{self.handle}"

    def env(self) -> dict[str, str]:
        env = {**os.environ,
               # The four nodes talk to each other on loopback, which a node refuses
               # by default (a guard against requests into private networks).
               "COMUNA_ALLOW_PRIVATE_NETWORKS": "1",
               "COMUNA_DELIVERY_POLL_SECONDS": "0.3",
               "COMUNA_ECONOMY_TICK_SECONDS": "1",
               "COMUNA_LOG_LEVEL": os.environ.get("COMUNA_DEMO_LOG_LEVEL", "WARNING")}
        for name in _OUTSIDE:
            env.pop(name, None)
        return env

    def init(self) -> None:
        """`comuna init` for this node, run in the demo's own process: four more Python
        processes only to make four databases cost the demo seconds of start-up."""
        from node.provision import init_node

        self.data_dir.mkdir(parents=True)
        with _IN_PROCESS:
            made = _in_process(f"`comuna init` para {self.name}", lambda: init_node(
                self.data_dir, self.url, self.handle, self.name, self.level))
        if made.refused or made.token is None:  # the folder was new: neither can happen
            raise DemoFailed(f"`comuna init` falló para {self.name}: "
                             f"{made.refused or 'el nodo ya existía'}")

    def invitation(self) -> str:
        """What `comuna invite --role facilitator` prints, made in this process."""
        from node.config import load_settings
        from node.provision import invite

        with _IN_PROCESS:
            _, token = _in_process(f"`comuna invite` para {self.name}", lambda: invite(
                load_settings(self.data_dir), "facilitator"))
        return token

    def launch(self) -> None:
        log = open(self.data_dir / "serve.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli.main", "serve", "--data-dir",
             str(self.data_dir), "--port", str(self.port)],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            # Its own process group: a Ctrl-C in the terminal reaches the demo, which
            # stops the nodes in order, rather than every node at once mid-write.
            start_new_session=True, preexec_fn=_die_with_parent)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise DemoFailed(f"{self.name} se detuvo al arrancar; vea "
                                 f"{self.data_dir / 'serve.log'}")
            try:
                # Its own actor: another process on the port would pass a health check.
                if httpx.get(self.actor, timeout=5, headers={
                        "Accept": "application/activity+json"}).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise DemoFailed(f"{self.name} no arrancó en {timeout:.0f} s")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Federation:
    """The demo's nodes, started side by side and stopped together."""

    def __init__(self, root: Path, nodes: list[tuple[str, str, str]]) -> None:
        self.nodes = {handle: DemoNode(handle, name, level, root / handle, free_port())
                      for handle, name, level in nodes}

    def __getitem__(self, handle: str) -> DemoNode:
        return self.nodes[handle]

    def start(self) -> None:
        for node in self.nodes.values():
            node.init()
            node.launch()  # its start-up overlaps the next node's init
        for node in self.nodes.values():
            node.wait_ready()

    def pids(self) -> list[int]:
        return [n.proc.pid for n in self.nodes.values() if n.proc is not None]

    def stop(self) -> None:
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(DemoNode.stop, self.nodes.values()))
