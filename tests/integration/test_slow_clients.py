"""Clients that trickle their request headers are cut off; everyone else is served meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server, start_server

pytestmark = pytest.mark.integration

TRICKLERS = 100
GIVE_UP_AFTER = 40.0  # seconds of trickling; the server's header and body deadlines are 1 s


@pytest.fixture(scope="module")
def strict_server(database_url: str, tokens: dict[str, str]) -> Iterator[Server]:
    s = start_server(database_url, INVENTORY_HEADER_TIMEOUT="1", INVENTORY_BODY_TIMEOUT="1")
    yield s
    s.stop()


async def _trickle(host: str, port: int) -> bool:
    """Send a header line every 0.2 s; True when the server closes the connection on us."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /api/products HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + GIVE_UP_AFTER
        while time.monotonic() < deadline:
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
                if await asyncio.wait_for(reader.read(1024), 0.2) == b"":
                    return True
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                return True
        return False
    finally:
        writer.close()


async def test_header_tricklers_are_disconnected_while_normal_requests_are_served(strict_server):
    where = urlsplit(strict_server.url)
    assert where.hostname and where.port
    tricklers = [asyncio.create_task(_trickle(where.hostname, where.port)) for _ in range(TRICKLERS)]
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=30) as client:
        while not all(t.done() for t in tricklers):
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(0.1)
    assert all(t.result() for t in tricklers), "a trickling client was never cut off"


async def test_a_keep_alive_connection_is_cut_off_when_a_later_request_trickles(strict_server):
    """The deadline is each request's: a connection whose first request was prompt, idle for a
    while, then trickling the headers of its second, is cut off too."""
    where = urlsplit(strict_server.url)
    assert where.hostname and where.port
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        length = int(next(line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))[15:])
        await reader.readexactly(length)  # the whole first answer: anything read later is the second's
        await asyncio.sleep(0.6)  # within keep-alive; the first request's deadline would pass during the next
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        deadline = time.monotonic() + GIVE_UP_AFTER
        cut_off = False
        while time.monotonic() < deadline and not cut_off:
            try:
                writer.write(b"X-Slow: 1\r\n")
                await writer.drain()
                chunk = await asyncio.wait_for(reader.read(1024), 0.2)
                cut_off = chunk == b""
            except TimeoutError:
                continue
            except (ConnectionError, OSError):
                cut_off = True
        assert cut_off, "the second request's trickled headers were never cut off"
    finally:
        writer.close()


async def _stall_body(host: str, port: int, token: str) -> bool:
    """Send a sale's headers and the start of its body, then nothing; True when the server closes."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"POST /api/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 200\r\n\r\n"
                     b'{"sku": ')  # fmt: skip
        await writer.drain()
        try:
            await asyncio.wait_for(reader.read(), GIVE_UP_AFTER)  # read() ends when the server closes
            return True
        except TimeoutError:  # (an OSError too: caught first)
            return False
        except (ConnectionError, OSError):
            return True
    finally:
        writer.close()


async def test_a_body_that_stops_coming_is_cut_off_while_normal_requests_are_served(strict_server, tokens):
    where = urlsplit(strict_server.url)
    assert where.hostname and where.port
    token = tokens["clerk"]
    stallers = [asyncio.create_task(_stall_body(where.hostname, where.port, token)) for _ in range(TRICKLERS)]
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=30) as client:
        while not all(t.done() for t in stallers):
            assert (await client.get("/healthz")).status_code == 200
            await asyncio.sleep(0.1)
    assert all(t.result() for t in stallers), "a request whose body stopped coming was never cut off"


async def test_a_body_that_keeps_coming_slowly_is_answered(strict_server, tokens):
    """The body deadline is between its parts, not on the whole: a slow link is not cut off."""
    where = urlsplit(strict_server.url)
    assert where.hostname and where.port
    body = b'{"sku": "NO-SUCH-SKU", "type": "SELL", "quantity": 1, "unit_price": "1.00"}'
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(b"POST /api/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + tokens["clerk"].encode() + b"\r\n"
                     b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")  # fmt: skip
        for start in range(0, len(body), 8):  # about 2 s in all, twice the deadline; 0.3 s between parts
            await asyncio.sleep(0.3)
            writer.write(body[start : start + 8])
            await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert answer.startswith(b"HTTP/1.1 404"), answer  # read whole, and answered: no such product
    finally:
        writer.close()


async def test_a_websocket_outlives_the_deadlines(strict_server, tokens):
    """An upgraded connection (GraphQL subscriptions) is the WebSocket protocol's from its upgrade on:
    quiet for longer than both deadlines, it still answers."""
    from tests.integration.test_graphql_subscriptions import STOCK, subscribed

    async with subscribed(strict_server.url, tokens["viewer"], STOCK, {"s": ["NO-SUCH-SKU"]}) as ws:
        await asyncio.sleep(3)  # three times the 1 s deadlines
        await ws.send('{"type": "ping"}')
        answer = await asyncio.wait_for(ws.recv(), 10)
    assert '"pong"' in str(answer)
