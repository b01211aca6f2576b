"""KeepAliveClient against a real socket server on loopback whose behaviour each test scripts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from llmnet.api.http_client import HttpStatusError, KeepAliveClient
from llmnet.errors import BackendTimeout, BackendUnavailable

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, dict[str, int]], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    return await reader.readexactly(length)


def answer(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n" % (status, len(body), extra) + body


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]) -> None:
    """Keep-alive: answer every request on the connection with its own body."""
    while True:
        try:
            body = await read_request(reader)
        except asyncio.IncompleteReadError:
            return
        if body is None:
            return
        seen["requests"] += 1
        writer.write(answer(200, body))
        await writer.drain()


def serve(script: Script, calls: Callable[[KeepAliveClient, str], Awaitable[None]]) -> dict[str, int]:
    seen = {"connections": 0, "requests": 0}

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            await script(reader, writer, seen)
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = KeepAliveClient()
        try:
            await calls(client, f"http://127.0.0.1:{port}/v1/respond")
        finally:
            await client.aclose()
            await asyncio.sleep(0.05)  # the handlers see their connections close and return
            server.close()
            await server.wait_closed()

    asyncio.run(main())
    return seen


def test_sequential_calls_share_one_connection_and_get_their_own_answers() -> None:
    async def calls(client: KeepAliveClient, url: str) -> None:
        for i in range(20):
            assert await client.post_json(url, {"i": i, "text": "é" * i}, timeout=5) == {"i": i, "text": "é" * i}

    seen = serve(echo_forever, calls)
    assert seen == {"connections": 1, "requests": 20}


def test_concurrent_calls_open_more_connections_and_pool_them() -> None:
    async def calls(client: KeepAliveClient, url: str) -> None:
        for _ in range(3):
            got = await asyncio.gather(*(client.post_json(url, {"i": i}, timeout=5) for i in range(8)))
            assert got == [{"i": i} for i in range(8)]

    seen = serve(echo_forever, calls)
    assert seen["requests"] == 24
    assert seen["connections"] == 8  # the second and third waves reuse the first wave's connections


def test_a_connection_the_server_closed_while_idle_is_replaced_transparently() -> None:
    async def one_per_connection(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]
    ) -> None:
        body = await read_request(reader)
        seen["requests"] += 1
        writer.write(answer(200, body or b""))  # says nothing of closing, then closes
        await writer.drain()

    async def calls(client: KeepAliveClient, url: str) -> None:
        for i in range(3):
            assert await client.post_json(url, {"i": i}, timeout=5) == {"i": i}
            await asyncio.sleep(0.05)  # the close reaches the client while the connection is idle

    seen = serve(one_per_connection, calls)
    assert seen == {"connections": 3, "requests": 3}


def test_connection_close_answers_are_not_pooled() -> None:
    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]) -> None:
        body = await read_request(reader)
        seen["requests"] += 1
        writer.write(answer(200, body or b"", b"Connection: close\r\n"))
        await writer.drain()
        await asyncio.sleep(0.5)  # keeps the socket open: only the header says not to reuse it

    async def calls(client: KeepAliveClient, url: str) -> None:
        for i in range(2):
            assert await client.post_json(url, {"i": i}, timeout=5) == {"i": i}

    seen = serve(closing, calls)
    assert seen == {"connections": 2, "requests": 2}


def test_error_status_carries_the_body_and_the_connection_stays_usable() -> None:
    async def refuse_then_echo(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]
    ) -> None:
        await read_request(reader)
        seen["requests"] += 1
        writer.write(answer(403, json.dumps({"error": {"message": "unknown signer"}}).encode()))
        await echo_forever(reader, writer, seen)

    async def calls(client: KeepAliveClient, url: str) -> None:
        with pytest.raises(HttpStatusError) as info:
            await client.post_json(url, {"i": 0}, timeout=5)
        assert info.value.status == 403 and "unknown signer" in str(info.value)
        assert await client.post_json(url, {"i": 1}, timeout=5) == {"i": 1}

    seen = serve(refuse_then_echo, calls)
    assert seen == {"connections": 1, "requests": 2}


def test_chunked_answers_are_reassembled() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]) -> None:
        await read_request(reader)
        seen["requests"] += 1
        writer.write(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n')
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(b"2\r\n1}\r\n0\r\n\r\n")
        await writer.drain()

    async def calls(client: KeepAliveClient, url: str) -> None:
        assert await client.post_json(url, {}, timeout=5) == {"a": 1}

    assert serve(chunked, calls)["requests"] == 1


def test_a_silent_server_times_out_and_its_connection_is_dropped() -> None:
    async def silent_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]) -> None:
        await read_request(reader)
        seen["requests"] += 1
        if seen["requests"] == 1:
            await asyncio.sleep(1)
            writer.write(answer(200, b'{"late": true}'))
            return
        writer.write(answer(200, b'{"i": 1}'))
        await echo_forever(reader, writer, seen)

    async def calls(client: KeepAliveClient, url: str) -> None:
        with pytest.raises(BackendTimeout, match="did not answer within"):
            await client.post_json(url, {"i": 0}, timeout=0.2)
        # a late answer on the timed-out connection must never be taken for the next call's
        assert await client.post_json(url, {"i": 1}, timeout=5) == {"i": 1}

    seen = serve(silent_once, calls)
    assert seen["connections"] == 2


def test_an_answer_cut_off_midway_is_an_error_not_a_retry() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, seen: dict[str, int]) -> None:
        await read_request(reader)
        seen["requests"] += 1
        writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"partial')
        await writer.drain()

    async def calls(client: KeepAliveClient, url: str) -> None:
        with pytest.raises(BackendUnavailable, match="cannot be reached"):
            await client.post_json(url, {}, timeout=5)

    assert serve(cut, calls) == {"connections": 1, "requests": 1}


def test_nothing_listening_is_unavailable() -> None:
    async def main() -> None:
        client = KeepAliveClient()
        with pytest.raises(BackendUnavailable, match="cannot be reached"):
            await client.post_json("http://127.0.0.1:9/v1/respond", {}, timeout=5)
        await client.aclose()

    asyncio.run(main())
