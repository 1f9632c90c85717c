"""Wake-ups between the processes of one node on one machine.

A process that commits rows for another process's loop (delivery rows for a
`comuna worker`, inbox rows for the processor of a web-only `serve`) says so at
once instead of leaving the other to find them at its next poll (a second by
default). Each process that runs background loops binds one Unix datagram socket
in `<data dir>/run/`; a notice is one short datagram ("delivery", "inbox"…) sent
to every other socket there. Nothing is promised: a notice may be lost (full
buffer, a process starting), and the loops still poll, so the bus only makes
the usual case fast. Processes on other machines (a shared PostgreSQL) are not
reached and find the work by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import socket
import stat
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

log = logging.getLogger("comuna.wakebus")

# How often a sender lists the run directory again: a process that starts is sent
# notices within this long (the same second the change feed promises).
RESCAN_SECONDS = 1.0
# Linux's sun_path is 108 bytes with the final NUL.
MAX_PATH = 107
_serial = itertools.count()


class WakeBus:
    def __init__(self, run_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.run_dir = run_dir
        self.clock = clock
        self._lock = threading.Lock()
        self._out: socket.socket | None = None
        self._peers: list[str] = []
        self._scanned = -RESCAN_SECONDS
        self._own: str | None = None
        self._in: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False
        self._dir_fd: int | None = None
        # "/proc/self/fd/N" for the run directory; "" where it cannot be used.
        self._via_fd: str | None = None
        self._since = 0.0

    # --- receiving ----------------------------------------------------------

    def listen(self, loop: asyncio.AbstractEventLoop,
               handlers: Mapping[str, Callable[[], None]]) -> bool:
        """Bind this process's socket and call `handlers[topic]` on the loop for each
        notice. False when the bus cannot be used here (the loops then only poll)."""
        if self._in is not None:
            return True
        if not hasattr(socket, "AF_UNIX"):
            return False
        # Random as well: after a SIGKILL a restarted process often has the same pid
        # (pid 1 in a container), and its old file would refuse the bind.
        path = self.run_dir / f"wake-{os.getpid()}-{next(_serial)}-{os.urandom(4).hex()}.sock"
        try:
            self.run_dir.mkdir(mode=0o700, exist_ok=True)
            _check_private(self.run_dir)
            with self._lock:
                address = self._address(str(path))
            if address is None:
                log.info("wake-ups from other processes off: %s is too long a socket "
                         "path; work they queue is found by polling", path)
                return False
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(address)
            # Only the node's own user may wake its loops.
            os.chmod(path, 0o600)
        except OSError as exc:
            log.info("wake-ups from other processes off: %s", exc)
            return False

        def readable() -> None:
            read = 0
            for _ in range(256):
                try:
                    data = sock.recv(64)
                except (BlockingIOError, InterruptedError, OSError):
                    break
                read += 1
                handler = handlers.get(data.decode("ascii", "replace"))
                if handler is not None:
                    handler()
            if read >= _queue_length():
                # The socket's queue was full, so senders' notices were refused
                # meanwhile, whatever their topic: wake every loop rather than leave
                # one asleep until its idle poll.
                for handler in handlers.values():
                    handler()

        loop.add_reader(sock.fileno(), readable)
        self._in, self._own, self._loop = sock, str(path), loop
        self._since = self.clock()
        return True

    @property
    def listening(self) -> bool:
        """Listening, and for long enough that every sender has seen this socket (they
        list the directory again at most once a second): from then on a notice is
        only lost with a full queue, which `readable` makes up for."""
        return self._in is not None and self.clock() - self._since >= RESCAN_SECONDS

    def close(self) -> None:
        sock, path, loop = self._in, self._own, self._loop
        self._in = self._own = self._loop = None
        if sock is not None:
            if loop is not None and not loop.is_closed():
                with contextlib.suppress(Exception):
                    loop.remove_reader(sock.fileno())
            sock.close()
        if path is not None:
            with contextlib.suppress(OSError):
                os.unlink(path)
        with self._lock:
            if self._out is not None:
                self._out.close()
                self._out = None
            if self._dir_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._dir_fd)
                self._dir_fd = self._via_fd = None

    # --- sending ------------------------------------------------------------

    def notify(self, topic: str) -> None:
        """Tell every other process of this node that `topic` has work. Never raises and
        never blocks: callers do it right after committing."""
        data = topic.encode("ascii")
        with self._lock:
            peers = self._peer_list()
            if not peers:
                return
            if self._out is None:
                try:
                    self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._out.setblocking(False)
                except OSError:
                    return
            stale = []
            for peer in peers:
                address = self._address(peer)
                if address is None:
                    continue
                try:
                    self._out.sendto(data, address)
                except BlockingIOError:
                    pass  # its buffer is full of notices: it is awake already
                except (ConnectionRefusedError, FileNotFoundError):
                    stale.append(peer)
                except OSError as exc:
                    log.debug("wake-up to %s not sent: %s", peer, exc)
            for peer in stale:
                # Bound by nobody: left by a process that was killed. Only a socket is
                # removed (never what a name in the directory might point to).
                with contextlib.suppress(OSError):
                    if stat.S_ISSOCK(os.lstat(peer).st_mode):
                        os.unlink(peer)
                self._peers.remove(peer)

    def _address(self, path: str) -> str | None:
        """How to name the socket at `path` to the kernel. A socket's name has room for
        107 bytes: a deeper data directory (a test's temporary one, often) is reached
        through this process's descriptor of the run directory, /proc/self/fd/N/name, as
        Linux allows. None when neither fits."""
        if len(os.fsencode(path)) <= MAX_PATH:
            return path
        if self._via_fd is None:
            self._via_fd = self._open_dir()
        if not self._via_fd:
            return None
        short = f"{self._via_fd}/{os.path.basename(path)}"
        return short if len(os.fsencode(short)) <= MAX_PATH else None

    def _open_dir(self) -> str:
        """The run directory as /proc/self/fd/N, opened once; "" where that cannot be."""
        try:
            self._dir_fd = os.open(self.run_dir, os.O_PATH | os.O_DIRECTORY)
        except (OSError, AttributeError):  # O_PATH is Linux's
            return ""
        via = f"/proc/self/fd/{self._dir_fd}"
        return via if os.path.isdir(via) else ""

    def _peer_list(self) -> list[str]:
        now = self.clock()
        if now - self._scanned >= RESCAN_SECONDS:
            self._scanned = now
            self._peers = [p for p in self._scan() if p != self._own]
        return self._peers

    def _scan(self) -> list[str]:
        try:
            # Checked at every look, by senders too: nothing is sent into a directory
            # others may write to.
            _check_private(self.run_dir)
            return [str(p) for p in self.run_dir.glob("wake-*.sock")]
        except FileNotFoundError:
            return []  # nobody listens yet
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("wake-ups to other processes off: %s", exc)
            return []


@functools.cache
def _queue_length() -> int:
    """How many datagrams a socket holds unread before senders are refused (Linux's
    net.unix.max_dgram_qlen, 10 by default)."""
    try:
        with open("/proc/sys/net/unix/max_dgram_qlen") as f:
            return max(1, int(f.read().strip()))
    except (OSError, ValueError):
        return 10


def _check_private(run_dir: Path) -> None:
    """The directory must be ours and closed to others: whoever can write in it could
    plant names that make us send elsewhere, or change a socket before we close it."""
    st = os.lstat(run_dir)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise OSError(f"{run_dir} must be a directory of this user's with mode 0700")
