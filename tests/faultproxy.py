"""A user-space fault proxy for the test suite: a bad link in front of a node.

These machines' kernels have no `netem`, so latency, a bandwidth cap, lost and reset
connections, stalls and partitions are made here, in one asyncio TCP proxy. It listens
on a node's public port (the port in the node's configured URL) and forwards to the
port the node really serves on, so every peer reaches the node through the faults while
the test itself can still talk to the node directly.

The proxy runs its own event loop in a background thread; the test changes the faults
at run time by setting attributes or calling `partition()`, `heal()`, `stall()`,
`resume()`. Faults act on bytes and connections, never on HTTP: the node and its peers
see only what a bad network would show them.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
import time
from collections.abc import Coroutine
from typing import Any

SLICE = 4096  # bytes sent at once under a bandwidth cap, so the pace stays even


class _Conn:
    """One proxied connection: both ends, and whether a request went up since the last
    answer came down (what makes an exchange)."""

    def __init__(self, ends: list[asyncio.StreamWriter]) -> None:
        self.ends = ends
        self.asked = False


class _Exchanges:
    """A count of exchanges, shared by the proxies of one link (their loops run in
    different threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self._base = 0

    def next(self) -> int:
        """Counts one more; returns its number since the last `restart`."""
        with self._lock:
            self.count += 1
            return self.count - self._base

    def restart(self) -> None:
        with self._lock:
            self._base = self.count


class _Link:
    """One direction of the shared link: when it is next free to send (for the cap)."""

    def __init__(self) -> None:
        self.free_at = 0.0


def _rst(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset (linger 0) rather than an orderly FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


class FaultProxy:
    """Forwards 127.0.0.1:`listen_port` to 127.0.0.1:`target_port`, adding faults.

    Faults (all may be changed while it runs):
      latency       seconds added to every chunk, in each direction;
      bandwidth     bytes per second in each direction, shared by all connections
                    (None: no cap);
      reset_every   every Nth exchange (a request and its answer, on any connection) is
                    cut by a reset (RST) of its connection as the node starts to answer:
                    the request arrived, the answer is lost. Counted by exchange, not
                    by connection, because clients keep connections alive: a pooled
                    client might open fewer than N connections in a whole test;
      drop_every    every Nth connection is closed at once, before anything is forwarded;
      stall()       nothing moves on any connection, old or new, until resume();
      partition()   "refuse": nothing listens (connection refused) and open connections
                    are reset; "blackhole": connections are accepted and nothing ever
                    moves, and they are reset at heal(), as a long outage leaves them.
    """

    def __init__(self, listen_port: int, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.listen_port, self.target_port = host, listen_port, target_port
        self.latency = 0.0
        self.bandwidth: float | None = None
        self.reset_every = 0
        self.drop_every = 0
        # What happened, for tests to check that a fault really took place.
        self.connections = 0
        self._exchanges = _Exchanges()
        self._connections_base = 0
        self.resets = 0
        self.drops = 0
        self.bytes_up = 0  # towards the node
        self.bytes_down = 0
        self._mode = "open"  # open | refuse | blackhole
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._live: set[asyncio.StreamWriter] = set()
        self._links = {"up": _Link(), "down": _Link()}

    # --- driving it from the test ----------------------------------------------------

    def start(self) -> FaultProxy:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._flowing = asyncio.Event()
            self._flowing.set()
            loop.run_until_complete(self._listen())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"faultproxy-{self.listen_port}",
                                        daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set(self, **faults: Any) -> None:
        """Change faults at once, e.g. `set(latency=0.4, bandwidth=32_000)`."""
        for name, value in faults.items():
            if name not in ("latency", "bandwidth", "reset_every", "drop_every"):
                raise AttributeError(name)
            setattr(self, name, value)
        # Counted from now, so "one in N" holds for what happens after the change.
        if "reset_every" in faults:
            self._exchanges.restart()
        if "drop_every" in faults:
            self._connections_base = self.connections

    def clear(self) -> None:
        """A clean link again: no faults, flowing, listening."""
        self.set(latency=0.0, bandwidth=None, reset_every=0, drop_every=0)
        self.heal()
        self.resume()

    @property
    def exchanges(self) -> int:
        """Requests answered (or cut) so far: a request and the start of its answer."""
        return self._exchanges.count

    def share_exchanges(self, other: FaultProxy) -> None:
        """Count exchanges together with `other`, as one link: the proxies in front of
        two nodes carry the two directions of the link between them (each side's
        requests), and "one in N" then holds for the link, not for each half."""
        self._exchanges = other._exchanges

    def partition(self, mode: str = "refuse") -> None:
        if mode not in ("refuse", "blackhole"):
            raise ValueError(mode)
        self._call(self._partition(mode))

    def heal(self) -> None:
        self._call(self._heal())

    def stall(self) -> None:
        self._call(self._set_flowing(False))

    def resume(self) -> None:
        self._call(self._set_flowing(True))

    @property
    def mode(self) -> str:
        return self._mode

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        assert self._loop is not None, "the proxy is not running"
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- inside the proxy's loop -----------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.listen_port,
                                                  reuse_address=True)

    async def _partition(self, mode: str) -> None:
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        self._mode = mode
        if mode == "refuse":  # a blackhole leaves them hanging instead
            for w in list(self._live):
                _rst(w)

    async def _heal(self) -> None:
        if self._mode == "blackhole":
            for w in list(self._live):
                _rst(w)
        self._mode = "open"
        if self._server is None:
            await self._listen()

    async def _set_flowing(self, on: bool) -> None:
        assert self._flowing is not None
        if on:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._live):
            w.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = self.connections - self._connections_base
        if self._mode != "open":  # accepted by a blackhole: held until heal resets it
            self._live.add(client_w)
            await self._hold(client_w)
            return
        if self.drop_every and n % self.drop_every == 0:
            self.drops += 1
            await self._drop(client_r, client_w)
            return
        try:
            node_r, node_w = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            # The node is down: the peer sees its connection cut, as behind a dead host.
            _rst(client_w)
            return
        self._live.update((client_w, node_w))
        conn = _Conn([client_w, node_w])
        try:
            await asyncio.gather(self._pump(client_r, node_w, "up", conn),
                                 self._pump(node_r, client_w, "down", conn))
        finally:
            for w in conn.ends:
                self._live.discard(w)
                w.transport.abort()

    async def _drop(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An orderly close with no answer. What the peer already sent is read first:
        closing over unread bytes would make the kernel send a reset instead."""
        writer.write_eof()
        try:
            while await asyncio.wait_for(reader.read(65536), 5):
                pass
        except (TimeoutError, ConnectionError, OSError):
            pass
        writer.close()

    async def _hold(self, writer: asyncio.StreamWriter) -> None:
        try:
            while not writer.transport.is_closing():
                await asyncio.sleep(0.2)
        finally:
            self._live.discard(writer)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str,
                    conn: _Conn) -> None:
        """Reads as fast as bytes come and sends each chunk when its delay is over, so
        latency does not cut throughput (a long fat pipe, not a slow one)."""
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, dst, way, conn))
        try:
            while True:
                try:
                    data = await src.read(65536)
                except (ConnectionError, OSError):
                    data = b""
                if not data:
                    break
                await queue.put((time.monotonic() + self.latency, data))
            await queue.put((0.0, b""))  # end of stream, after what is queued
            await sender
        finally:
            sender.cancel()

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]],
                    dst: asyncio.StreamWriter, way: str, conn: _Conn) -> None:
        try:
            while True:
                due, data = await queue.get()
                if not data:
                    _end_of_stream(dst, way, conn.ends)
                    return
                if self._reset_now(way, conn):
                    return
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                await self._write(data, dst, way, conn)
        except (ConnectionError, OSError):
            for w in conn.ends:
                w.transport.abort()

    def _reset_now(self, way: str, conn: _Conn) -> bool:
        """Whether this answer's exchange is one to cut with a reset (and cut it)."""
        if way != "down" or not conn.asked:
            return False
        conn.asked = False  # the node starts an answer: one more exchange
        n = self._exchanges.next()
        if not (self.reset_every and n % self.reset_every == 0):
            return False
        self.resets += 1
        for w in conn.ends:
            _rst(w)
        return True

    async def _write(self, data: bytes, dst: asyncio.StreamWriter, way: str,
                     conn: _Conn) -> None:
        """Sends `data` in slices, each when the link is open and within the cap."""
        assert self._flowing is not None
        link = self._links[way]
        for i in range(0, len(data), SLICE):
            part = data[i:i + SLICE]
            while self._mode != "open" or not self._flowing.is_set():
                await self._flowing.wait()
                if self._mode != "open":
                    await asyncio.sleep(0.05)
            if self.bandwidth:
                now = time.monotonic()
                link.free_at = max(now, link.free_at) + len(part) / self.bandwidth
                await asyncio.sleep(link.free_at - now)
            if way == "up":
                self.bytes_up += len(part)
                conn.asked = True
            else:
                self.bytes_down += len(part)
            dst.write(part)
            await dst.drain()


def _end_of_stream(dst: asyncio.StreamWriter, way: str,
                   ends: list[asyncio.StreamWriter]) -> None:
    if way == "up" and dst.can_write_eof():
        # A peer that half-closes after its request still gets the answer.
        dst.write_eof()
    else:  # the node hung up: so does the connection
        for w in ends:
            w.close()
