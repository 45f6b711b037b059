"""While the database is down: 503 with Retry-After for the API, a plain page for browsers, and
back to normal by itself when the database returns."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.services import embedded
from tests.conftest import Server, bearer, make_user, start_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def own_database() -> Iterator[tuple[Path, str]]:
    data_dir = Path(tempfile.mkdtemp(prefix="sro-", dir="/tmp"))
    try:
        yield data_dir, embedded.ensure_running(data_dir)
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def outage_server(own_database: tuple[Path, str]) -> Iterator[tuple[Server, str]]:
    _, url = own_database
    token = make_user(url, "outage-admin", "admin")
    server = start_server(url, INVENTORY_POOL_TIMEOUT="3")
    yield server, token
    server.stop()


def _until(check, within: float = 60.0):  # type: ignore[no-untyped-def]
    """Poll until `check()` is truthy: the database takes its own time to come back."""
    deadline = time.monotonic() + within
    while not (found := check()):
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.2)
    return found


def test_a_stopped_database_is_a_503_with_retry_after_and_the_app_recovers_alone(own_database, outage_server):
    data_dir, url = own_database
    server, token = outage_server
    api = httpx.Client(base_url=server.url, headers=bearer(token), timeout=30)
    sku = f"OUT-{int(time.time() * 1000)}"
    assert api.post("/api/products", json={"sku": sku, "name": "Outage"}).status_code == 201
    assert api.get("/readyz").status_code == 200

    embedded.stop(data_dir)
    try:
        started = time.monotonic()
        sale = api.post("/api/transactions", json={"sku": sku, "type": "BUY", "quantity": 1, "unit_price": "1"})
        listing = api.get("/api/products")
        page = api.get("/", headers={"Accept": "text/html"})  # a page, as a signed-in browser asks for it
        ready = api.get("/readyz")
        stream = api.get("/events", params={"sku": sku})  # the token is still cached: the stream itself must say
        assert time.monotonic() - started < 25  # answered, not left waiting
        for reply in (sale, listing, ready, stream):
            assert reply.status_code == 503, reply.text
            assert int(reply.headers["retry-after"]) > 0
        assert "not reachable" in sale.json()["detail"]
        assert page.status_code == 503 and "The database is not reachable" in page.text
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # the process itself is fine
    finally:
        assert embedded.ensure_running(data_dir) == url

    _until(lambda: api.get("/readyz").status_code == 200)
    bought = _until(lambda: (r := api.post("/api/transactions", json={
        "sku": sku, "type": "BUY", "quantity": 2, "unit_price": "1"})).status_code == 201 and r)  # fmt: skip
    assert bought.json()["product"]["on_hand"] == 2  # the refused sale left nothing behind

