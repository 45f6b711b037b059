"""CSV downloads whose clients stop reading, or leave halfway, take nothing from sales: the export is
spooled (app/services/csv_export.py). Streamed straight from its COPY, each stalled download held a
pooled connection, and with the pool taken every sale waited for a 503 (issue 12's adversarial trial)."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest

from app.services.csv_export import OPEN_AT_MOST
from tests.conftest import Server, bearer, start_server
from tests.integration.helpers import make_product, product_with_buys, record, summary

pytestmark = pytest.mark.integration

ROWS = 20_000  # about 3.4 MB of CSV: far more than a stalled client's socket buffers hold
POOL = 3
STALLED = 2 * POOL


@pytest.fixture(scope="module")
def small_pool_server(database_url: str, tokens: dict[str, str]) -> Iterator[Server]:
    s = start_server(database_url, INVENTORY_POOL_SIZE=str(POOL), INVENTORY_POOL_TIMEOUT="3")
    yield s
    s.stop()


async def _download_not_read(server: Server, token: str, sku: str) -> tuple[socket.socket, bytes]:
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
    start = await loop.sock_recv(sock, 1024)
    assert start.startswith(b"HTTP/1.1 200"), start[:300]
    return sock, start


def _content_length(head: bytes) -> int:
    found = re.search(rb"(?i)content-length: *(\d+)", head)
    assert found, head[:500]
    return int(found.group(1))


async def test_stalled_and_abandoned_downloads_leave_sales_their_connections(small_pool_server, tokens):
    async with httpx.AsyncClient(base_url=small_pool_server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
        sku = await product_with_buys(api, ROWS)
        whole = (await api.get("/api/transactions.csv", params={"sku": sku})).content
        assert whole.count(b"\r\n") == ROWS + 1

        stalled = [await _download_not_read(small_pool_server, tokens["viewer"], sku) for _ in range(STALLED)]
        abandoned = [await _download_not_read(small_pool_server, tokens["viewer"], sku) for _ in range(STALLED)]
        for sock, _ in abandoned:
            sock.close()
        sales = await asyncio.gather(*(record(api, sku, "SELL", 1, "2.00") for _ in range(20)))
        assert len(sales) == 20  # `record` asserts each one's 201
        assert (await summary(api, sku))["on_hand"] == ROWS - 20

        first, got = stalled[0]  # a stalled download, read at last, is whole and as it was
        first.setblocking(True)
        first.settimeout(60)
        while b"\r\n\r\n" not in got:  # the headers
            got += first.recv(1 << 16)
        head, body = got.split(b"\r\n\r\n", 1)
        size = _content_length(head)
        while len(body) < size and (part := first.recv(1 << 16)):
            body += part
        for sock, _ in stalled:
            sock.close()
        assert body == whole  # byte for byte the download read at once


async def test_an_export_whose_copy_fails_is_a_503_never_a_200_cut_short(api, db, database_url):
    """The COPY runs to its end before the first byte is sent: a database that fails it (here its
    backend is terminated while it waits for a lock) fails the request, and the client knows it."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 3, "1.00")
    locker = await asyncpg.connect(database_url)  # `db` watches: a transaction sees one pg_stat_activity
    await locker.execute("BEGIN; LOCK TABLE product IN ACCESS EXCLUSIVE MODE")
    try:
        download = asyncio.create_task(api.get("/api/transactions.csv", params={"sku": sku}))
        pid = None
        for _ in range(1200):  # until the export's COPY waits for the lock (its statement's text; no time assumed)
            pid = await db.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND wait_event_type = 'Lock'", "%'stockroom-' ||%"
            )
            if pid is not None:
                break
            await asyncio.sleep(0.05)
        assert pid is not None, "the export never reached its COPY"
        await db.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await locker.close()  # its lock with it
    answer = await download
    assert answer.status_code == 503, (answer.status_code, answer.text[:200])
    assert (await api.get("/api/transactions.csv", params={"sku": sku})).content.count(b"\r\n") == 2


async def test_downloads_never_read_take_at_most_their_share_of_the_disk(database_url, tokens):
    """Each export being sent holds its spooled file until its client has read it: past OPEN_AT_MOST
    in a process, a download is a 503 to try again, and a slot comes free when its client leaves."""
    server = start_server(database_url)
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
            sku = await product_with_buys(api, ROWS)
            stalled = [await _download_not_read(server, tokens["viewer"], sku) for _ in range(OPEN_AT_MOST)]
            busy = await api.get("/api/transactions.csv", params={"sku": sku})
            assert busy.status_code == 503 and busy.headers["retry-after"], busy.text
            assert "Too many downloads" in busy.json()["detail"]
            await record(api, sku, "SELL", 1, "2.00")  # sales are untouched
            stalled.pop()[0].close()
            for _ in range(600):  # until the server has seen that client leave (no time assumed)
                again = await api.get("/api/transactions.csv", params={"sku": sku})
                if again.status_code == 200:
                    break
                await asyncio.sleep(0.05)
            assert again.status_code == 200 and again.content.count(b"\r\n") == ROWS + 2
            for sock, _ in stalled:
                sock.close()
    finally:
        server.stop()


async def test_a_download_never_read_is_cut_off_after_the_send_timeout(database_url, tokens):
    """nginx's send_timeout: an answer nobody takes any of for INVENTORY_SEND_TIMEOUT is cut, and its
    spooled file and export slot go with it (a stalled client held them for as long as it stayed)."""
    server = start_server(database_url, INVENTORY_SEND_TIMEOUT="1")
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
            sku = await product_with_buys(api, ROWS)
            sock, got = await _download_not_read(server, tokens["viewer"], sku)
            size = _content_length(got)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, _wait_until_cut, sock)  # read only once the server gave up on it
            ended = False
            while not ended:  # what the kernels hold, then the end
                try:
                    part = await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), 60)
                except ConnectionResetError:
                    part = b""
                ended = not part
                got += part
            sock.close()
            assert len(got.split(b"\r\n\r\n", 1)[1]) < size  # cut short, not sent whole
            await record(api, sku, "SELL", 1, "2.00")
    finally:
        server.stop()


async def test_a_download_read_slowly_is_never_cut_off(database_url, tokens):
    """The send timeout counts time in which the client takes nothing: a slow link that keeps
    taking some (here 64 KiB every 0.1 s, against a timeout of 5 s) gets the whole file."""
    server = start_server(database_url, INVENTORY_SEND_TIMEOUT="5")
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
            sku = await product_with_buys(api, ROWS)
            whole = (await api.get("/api/transactions.csv", params={"sku": sku})).content
            sock, got = await _download_not_read(server, tokens["viewer"], sku)
            loop = asyncio.get_running_loop()
            while b"\r\n\r\n" not in got:
                got += await loop.sock_recv(sock, 1 << 15)
            head, body = got.split(b"\r\n\r\n", 1)
            size = _content_length(head)
            while len(body) < size:
                await asyncio.sleep(0.1)
                tick = len(body) + (1 << 16)  # 64 KiB a tick, a few KiB a recv (the receive buffer is tiny)
                while len(body) < min(size, tick):
                    part = await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), 60)
                    assert part, f"cut off after {len(body)} of {size} bytes"
                    body += part
            sock.close()
            assert body == whole
    finally:
        server.stop()


def _wait_until_cut(sock: socket.socket) -> None:
    """Until the server's side of `sock` is gone (ss shows no established connection from its port)."""
    port = sock.getsockname()[1]
    for _ in range(1200):
        shown = subprocess.run(["ss", "-tnH", "state", "established", f"dport = :{port}"],
                               capture_output=True, text=True).stdout  # fmt: skip
        if not shown.strip():
            return
        time.sleep(0.05)
    raise AssertionError("the server never cut the stalled download off")


async def test_a_graceful_stop_cuts_downloads_nobody_reads_without_a_traceback(database_url, tokens):
    """uvicorn cancels what still runs 5 s into a stop, each with a traceback in the log: a download
    whose client takes nothing is cut first, and the stop is clean."""
    server = start_server(database_url)
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["admin"]), timeout=60) as api:
        sku = await product_with_buys(api, ROWS)
        stalled = [await _download_not_read(server, tokens["viewer"], sku) for _ in range(3)]
    server.process.terminate()
    assert server.process.wait(60) in (0, -15)  # uvicorn raises the SIGTERM again once it has stopped
    log = server.log.read_text(errors="replace")
    server.stop()
    for sock, _ in stalled:
        sock.close()
    assert "Traceback" not in log and "Exception in ASGI application" not in log, log[-3000:]
    assert "Finished server process" in log
