"""A minimal inbox sink for the delivery benchmark: answers every POST with 202.

    python bench/sink.py PORT [PORT ...]

Deliberately tiny (no framework) so the sink costs little CPU beside the workers.
"""

from __future__ import annotations

import asyncio
import sys

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"


class Sink(asyncio.Protocol):
    count = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            pos = head.find(b"content-length:")
            if pos >= 0:
                length = int(head[pos + 15:head.find(b"\r\n", pos) if head.find(
                    b"\r\n", pos) > 0 else len(head)].strip())
            total = end + 4 + length
            if len(self.buf) < total:
                return
            self.buf = self.buf[total:]
            Sink.count += 1
            self.transport.write(RESPONSE)  # type: ignore[attr-defined]


async def main(ports: list[int]) -> None:
    loop = asyncio.get_running_loop()
    for port in ports:
        await loop.create_server(Sink, "127.0.0.1", port)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.run(main([int(p) for p in sys.argv[1:]]))
    except ImportError:
        asyncio.run(main([int(p) for p in sys.argv[1:]]))
