"""A peer that closes a kept-alive connection just as we reuse it: the request is made
once more on a new connection instead of waiting for the retry schedule; and when a
failure is ours to retry, the first retry comes within seconds."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from node.activitypub.fetch import Fetcher, FetchError, make_client
from node.models.base import utcnow
from node.outbox import sender
from node.outbox.backoff import next_attempt


async def flaky_server(drops: int, body: bytes, status: str = "200 OK"
                       ) -> tuple[asyncio.Server, str, dict[str, int]]:
    """Closes the first `drops` connections once the request has arrived, then answers."""
    seen = {"connections": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        request = await reader.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in request.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        if length:
            await reader.readexactly(length)
        if seen["connections"] <= drops:
            writer.close()
            return
        writer.write(b"HTTP/1.1 " + status.encode() + b"\r\nContent-Type: application/json\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                     b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", seen


def test_fetch_tries_a_dropped_connection_once_more() -> None:
    async def main() -> tuple[dict[str, Any], int]:
        server, base, seen = await flaky_server(1, b'{"id": "x"}')
        client = make_client(allow_private=True, timeout=5)
        try:
            doc = await Fetcher(client, 10_000, 2).get_json(base + "/actor")
        finally:
            await client.aclose()
            server.close()
        return doc, seen["connections"]

    doc, connections = asyncio.run(main())
    assert doc == {"id": "x"} and connections == 2


def test_fetch_gives_up_after_the_second_drop() -> None:
    async def main() -> tuple[str | None, int]:
        server, base, seen = await flaky_server(5, b"{}")
        client = make_client(allow_private=True, timeout=5)
        try:
            await Fetcher(client, 10_000, 2).get_json(base + "/actor")
        except FetchError as exc:
            return type(exc).__name__, seen["connections"]
        finally:
            await client.aclose()
            server.close()
        return None, seen["connections"]

    assert asyncio.run(main()) == ("FetchError", 2)


def test_delivery_posts_once_more_on_a_dropped_connection() -> None:
    async def main() -> tuple[sender.SendResult, int]:
        server, base, seen = await flaky_server(1, b"", "202 Accepted")
        session = sender.make_session(True, 5, 10)
        try:
            res = await sender.post(session, base + "/inbox", b"{}", {})
        finally:
            await session.aclose()
            server.close()
        return res, seen["connections"]

    res, connections = asyncio.run(main())
    assert res.status == 202 and connections == 2


def test_first_retry_of_a_transient_failure_is_quick_then_backs_off() -> None:
    now = utcnow()
    quick = next_attempt(now, 1, None, transient=True) - now
    assert timedelta(seconds=1) < quick < timedelta(seconds=3)
    # An answer from the peer (a 503) and later failures wait the normal schedule.
    assert next_attempt(now, 1, None) - now > timedelta(seconds=20)
    assert next_attempt(now, 2, None, transient=True) - now > timedelta(seconds=40)
    # A Retry-After from the peer is honoured even on the first failure.
    assert next_attempt(now, 1, 600.0, transient=True) - now >= timedelta(seconds=600)
