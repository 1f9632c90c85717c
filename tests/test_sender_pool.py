"""The delivery client's footprint: aiohttp loaded only when a delivery needs it, and
at most a few idle connections kept per host after a burst."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from node.outbox import sender


class _HeldServer:
    """Answers 202 with keep-alive, but only once `hold` requests wait at once (so the
    client must open that many connections); counts connections open on its side."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.waiting = 0
        self.release = asyncio.Event()
        self.opened = 0
        self.open = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.opened += 1
        self.open += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.waiting += 1
                if self.waiting >= self.hold:
                    self.release.set()
                await self.release.wait()
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()


async def _until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check() and loop.time() < end:
        await asyncio.sleep(0.01)


def test_a_burst_to_one_host_leaves_only_the_capped_idle_connections() -> None:
    async def main() -> tuple[int, int, int]:
        srv = _HeldServer(hold=12)
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/inbox"
        session = sender.make_session(True, 5.0, 64, idle=30.0, idle_per_host=3)
        try:
            results = await asyncio.gather(*(sender.post(session, url, b"{}", {}, True)
                                             for _ in range(12)))
            assert [r.status for r in results] == [202] * 12
            burst = srv.opened
            await _until(lambda: srv.open <= 3)
            left = srv.open
            for _ in range(3):  # the kept ones are reused: no new connection
                assert (await sender.post(session, url, b"{}", {}, True)).status == 202
            return burst, left, srv.opened
        finally:
            await session.close()
            server.close()

    burst, left, opened = asyncio.run(main())
    assert burst == 12  # all twelve were open at once
    assert left == 3
    assert opened == 12


def test_starting_the_app_does_not_load_aiohttp() -> None:
    code = ("import sys, node.app; "
            "sys.exit('aiohttp' in sys.modules or 'node.outbox.aioclient' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
