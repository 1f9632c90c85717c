"""Node processes forked from a process that has already imported the node.

A node process spends about a second of CPU importing before it serves, and the suite
starts a hundred of them on two cores. Each pytest worker therefore keeps one "zygote":
a plain Python process (no pytest, no threads, no event loop, no database engine) that
imports what `comuna serve` and `comuna worker` load at start, then forks a child per
request. The child is a real, separate process: it runs the same `node.cli.main.main`
as the `comuna` command, with its own environment, log file and process id, and is
stopped and killed by signals like any other. Only the imports are inherited.

COMUNA_TEST_FORK=0 starts every node with a fresh interpreter instead.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any, Protocol

ENABLED = os.environ.get("COMUNA_TEST_FORK", "1") != "0"

# Read by the interpreter, the C library or the node's modules when they are first
# loaded: a child asked to differ from the zygote in one of these gets a fresh
# interpreter instead, or the setting would silently not apply.
_READ_AT_START = re.compile(r"^(PYTHON|MALLOC_|LD_|COMUNA_PASSWORD_COST$)")


class Child(Protocol):
    """What the tests use of a node process, whether forked or started fresh."""

    pid: int

    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def terminate(self) -> None: ...
    def kill(self) -> None: ...


class Forked:
    """A child of the zygote; its exit status comes from the zygote, which reaps it."""

    def __init__(self, server: Zygote, pid: int, args: list[str]) -> None:
        self.server, self.pid, self.args = server, pid, args

    @property
    def returncode(self) -> int | None:
        return self.server.exits.get(self.pid)

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        with self.server.changed:
            if not self.server.changed.wait_for(lambda: self.pid in self.server.exits,
                                                timeout):
                raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.server.exits[self.pid]

    def send_signal(self, sig: int) -> None:
        # Once reaped, the pid may belong to someone else: never signal it then.
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """The test side: starts the zygote, asks it for children, hears of their exits."""

    def __init__(self) -> None:
        self.env = dict(os.environ)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from tests.forkserver import serve; serve()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            cwd=Path(__file__).resolve().parent.parent, env=self.env)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.requests: IO[bytes] = self.proc.stdin
        self.exits: dict[int, int] = {}
        self.started: list[int] = []
        self.changed = threading.Condition()
        self.lock = threading.Lock()
        threading.Thread(target=self._listen, args=(self.proc.stdout,), daemon=True,
                         name="zygote-listener").start()

    def _listen(self, stream: IO[bytes]) -> None:
        for line in stream:
            kind, *fields = line.split()
            with self.changed:
                if kind == b"pid":
                    self.started.append(int(fields[0]))
                elif kind == b"exit":
                    self.exits[int(fields[0])] = int(fields[1])
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def can_start(self, env: dict[str, str]) -> bool:
        if self.proc.poll() is not None:
            return False
        keys = {k for k in (*env, *self.env) if _READ_AT_START.match(k)}
        return all(env.get(k) == self.env.get(k) for k in keys)

    def spawn(self, args: list[str], env: dict[str, str], log: Path) -> Forked:
        request = json.dumps({"args": args, "env": env, "log": str(log),
                              "cwd": os.getcwd()}).encode() + b"\n"
        with self.lock:  # one request, one answer, in order
            with self.changed:
                before = len(self.started)
            self.requests.write(request)
            self.requests.flush()
            with self.changed:
                if not self.changed.wait_for(lambda: len(self.started) > before
                                             or self.proc.poll() is not None, 30):
                    raise RuntimeError("the zygote did not answer within 30 s")
                if len(self.started) == before:
                    raise RuntimeError("the zygote died")
                pid = self.started[before]
        return Forked(self, pid, args)

    def close(self) -> None:
        """Its stdin closed, the zygote kills what it still has running and ends."""
        self.requests.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_ZYGOTE: list[Zygote] = []


def start(args: list[str], env: dict[str, str], log: Path) -> Child:
    """`comuna ARGS` as its own process with ENV, its output appended to LOG."""
    if ENABLED:
        if not _ZYGOTE or _ZYGOTE[0].proc.poll() is not None:
            if not _ZYGOTE:
                # Waited for, so that its children's CPU time is counted in the run's.
                atexit.register(close)
            _ZYGOTE[:] = [Zygote()]
        if _ZYGOTE[0].can_start(env):
            return _ZYGOTE[0].spawn(args, env, log)
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "node.cli.main", *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT)


def close() -> None:
    if _ZYGOTE:
        _ZYGOTE.pop().close()


# The zygote's side.

# What a node loads at start, then what it loads on first use (the JSON API and the
# pages, the loops at their first row, delivery's HTTP client): a test node uses most
# of it within seconds. The lazy loading itself is tested in fresh interpreters
# (tests/test_lazy_routes.py, tests/test_memory_imports.py); here the modules are
# merely found already imported, and the pages' templates already compiled.
PRELOAD = ("uvicorn", "uvicorn.lifespan.on", "uvicorn.loops.auto",
           "uvicorn.protocols.http.auto", "node.app", "node.cli.main",
           "node.outbox.delivery", "node.outbox.publish",
           "node.api.local", "node.cli.server", "node.inbox.processor", "node.governance.clock",
           "node.governance.members", "node.economy.clock", "node.federations.retries")


def _preload() -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    from node import app

    app.activitypub_routers()
    app.lazy_routers()
    from node.web.render import env

    for name in env.list_templates():
        env.get_template(name)


def _child(request: dict[str, Any], wake: tuple[int, int]) -> None:
    """Runs in the forked child and never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in wake:
            os.close(fd)
        out = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.environ.clear()
        os.environ.update(request["env"])
        os.chdir(request["cwd"])
        sys.argv = ["comuna", *request["args"]]
        from node.cli.main import main

        code = main(request["args"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001  # the child must end here, whatever happened
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # the log may be gone; the code counts
                stream.flush()
        os._exit(code)


def _fork(request: dict[str, Any], wake: tuple[int, int], answers: IO[bytes]) -> int:
    answers.flush()  # or the child would write what is buffered a second time
    pid = os.fork()
    if pid == 0:
        _child(request, wake)
    answers.write(f"pid {pid}\n".encode())
    answers.flush()
    return pid


def _reap(children: set[int], answers: IO[bytes]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        children.discard(pid)
        answers.write(f"exit {pid} {os.waitstatus_to_exitcode(status)}\n".encode())
    answers.flush()


def serve() -> None:
    try:
        _preload()
    except Exception:  # noqa: BLE001  # each node then meets the error itself, as it would
        import traceback

        traceback.print_exc()
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.set_wakeup_fd(write_end)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    answers = sys.stdout.buffer
    children: set[int] = set()

    pending = b""
    while True:
        ready, _, _ = select.select([0, read_end], [], [])
        if read_end in ready:
            os.read(read_end, 512)
            _reap(children, answers)
        if 0 not in ready:
            continue
        data = os.read(0, 1 << 16)
        if not data:
            break
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            children.add(_fork(json.loads(line), (read_end, write_end), answers))
        _reap(children, answers)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
