"""CSV downloads whose clients stop reading, or leave halfway, take nothing from sales: the export is
spooled (app/services/csv_export.py). Streamed straight from its COPY, each stalled download held a
pooled connection, and with the pool taken every sale waited for a 503 (issue 12's adversarial trial)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server, bearer, start_server
from tests.integration.helpers import make_product, record, summary

pytestmark = pytest.mark.integration

ROWS = 20_000  # about 3.4 MB of CSV: far more than a stalled client's socket buffers hold
POOL = 3
STALLED = 2 * POOL


@pytest.fixture(scope="module")
def small_pool_server(database_url: str, tokens: dict[str, str]) -> Iterator[Server]:
    s = start_server(database_url, INVENTORY_POOL_SIZE=str(POOL), INVENTORY_POOL_TIMEOUT="3")
    yield s
    s.stop()


async def _download_not_read(server: Server, token: str, sku: str) -> socket.socket:
    """A GET of the export from a client that reads 1 KiB of it and then nothing: its receive buffer is
    tiny, so the server soon has nowhere to put the rest."""
    url = urlsplit(server.url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, (url.hostname, url.port))
    request = f"GET /api/transactions.csv?sku={sku} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    await loop.sock_sendall(sock, request.encode())
    assert (await loop.sock_recv(sock, 1024)).startswith(b"HTTP/1.1 200")
    return sock


async def test_stalled_and_abandoned_downloads_leave_sales_their_connections(small_pool_server, tokens):
    async with httpx.AsyncClient(base_url=small_pool_server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
        sku = await make_product(api)
        lines = "".join(f"{sku}-{i},{sku},BUY,1,1.00,2025-01-01T00:00:00+00:00\n" for i in range(ROWS))
        r = await api.post("/api/import", content=b"external_id,sku,type,quantity,unit_price,at\n" + lines.encode())
        assert r.status_code == 201, r.text
        whole = (await api.get("/api/transactions.csv", params={"sku": sku})).content
        assert whole.count(b"\r\n") == ROWS + 1

        stalled = [await _download_not_read(small_pool_server, tokens["viewer"], sku) for _ in range(STALLED)]
        abandoned = [await _download_not_read(small_pool_server, tokens["viewer"], sku) for _ in range(STALLED)]
        for sock in abandoned:
            sock.close()
        sales = await asyncio.gather(*(record(api, sku, "SELL", 1, "2.00") for _ in range(20)))
        assert len(sales) == 20  # `record` asserts each one's 201
        assert (await summary(api, sku))["on_hand"] == ROWS - 20

        first = stalled[0]  # a stalled download, read at last, is whole and as it was
        first.setblocking(True)
        first.settimeout(60)
        got = b""
        while not got.endswith(b"\r\n0\r\n\r\n") and (part := first.recv(1 << 16)):  # to the last chunk
            got += part
        for sock in stalled:
            sock.close()
        assert whole.splitlines()[-1] in got and got.count(b"\r\n") > ROWS
