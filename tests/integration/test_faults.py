"""Fault injection: keyed retries, a small pool, killed connections, a poisoned batch.

Two processes share one database, each with a pool of only 3 connections, so any path that holds
a connection while waiting for another (or for a lock held by someone waiting for a connection)
freezes at once instead of only under a big storm. Every request must be answered within the
client's timeout (a freeze is forever, so a generous timeout still catches it on a busy machine),
and nothing acknowledged may be lost.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import Server, bearer, start_server
from tests.integration.helpers import anomalies, hold_units, make_product, record, summary, timeline

pytestmark = pytest.mark.integration

ANSWER_WITHIN = 45.0  # seconds; a frozen process never answers


@pytest.fixture(scope="module")
def small_pools(database_url: str, tokens: dict[str, str]) -> Iterator[tuple[Server, Server]]:
    one = start_server(database_url, INVENTORY_POOL_SIZE="3", INVENTORY_SWEEP_SECONDS="3600")
    two = start_server(database_url, INVENTORY_POOL_SIZE="3", INVENTORY_SWEEP_SECONDS="3600")
    yield one, two
    one.stop()
    two.stop()


def _clients(servers: tuple[Server, Server], token: str) -> list[httpx.AsyncClient]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    return [httpx.AsyncClient(base_url=s.url, timeout=ANSWER_WITHIN, limits=limits, headers=bearer(token))
            for s in servers]  # fmt: skip


async def _keyed(client: httpx.AsyncClient, path: str, body: dict[str, object] | None, key: str) -> httpx.Response:
    return await client.post(path, json=body or {}, headers={"Idempotency-Key": key})


async def _still_serving(servers: tuple[Server, Server], token: str) -> None:
    for c in _clients(servers, token):
        async with c:
            assert (await c.get("/readyz")).status_code == 200
            assert (await c.get("/api/products", params={"q": "nothing-matches-this"})).status_code == 200


async def test_keyed_cancels_and_their_retries_on_both_processes_are_all_answered(api, small_pools, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 100, "1.00")
    ids = await hold_units(api, sku, 30, "o-")
    one, two = _clients(small_pools, tokens["clerk"])
    async with one, two:
        keys = {i: f"cancel-{uuid.uuid4()}" for i in ids}
        first = await asyncio.gather(*(_keyed(one, f"/api/reservations/{i}/cancel", None, keys[i]) for i in ids))
        # The client retries every key, on the other process, all at once (what keys are for).
        again = await asyncio.gather(*(_keyed(two, f"/api/reservations/{i}/cancel", None, keys[i]) for i in ids))
    assert [r.status_code for r in first] == [200] * 30
    assert [r.status_code for r in again] == [200] * 30
    assert all(r.headers.get("idempotent-replayed") == "true" for r in again)
    assert (await summary(api, sku))["reserved"] == 0
    await _still_serving(small_pools, tokens["admin"])


async def test_keyed_reservations_mixed_with_sales_on_one_product_are_all_answered(api, small_pools, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 60, "1.00")
    one, two = _clients(small_pools, tokens["clerk"])
    async with one, two:
        calls = []
        for i in range(50):
            client = (one, two)[i % 2]
            calls.append(_keyed(client, "/api/reservations", {"sku": sku, "quantity": 1, "order_ref": f"r-{i}"},
                                f"res-{sku}-{i}"))  # fmt: skip
            calls.append(_keyed(client, "/api/transactions",
                                {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2.00"}, f"sale-{sku}-{i}"))
        replies = await asyncio.gather(*calls)
    codes = Counter(r.status_code for r in replies)
    assert set(codes) <= {200, 201, 409}, codes
    held = sum(1 for r in replies[0::2] if r.status_code == 201)
    sold = sum(1 for r in replies[1::2] if r.status_code == 201)
    assert held + sold == 60  # exactly what there was, no more, no less
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"]) == (60 - sold, held)
    await _still_serving(small_pools, tokens["admin"])


async def test_every_keyed_mutation_at_once_on_both_processes_is_answered(api, small_pools, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 40, "1.00")
    held = await hold_units(api, sku, 8, "h-")
    one, two = _clients(small_pools, tokens["manager"])
    csv = f"sku,type,quantity,unit_price,external_id\n{sku},BUY,1,1.00,imp-{sku}\n"
    async with one, two:
        calls = []
        for n, client in enumerate((one, two, one, two)):
            k = f"{sku}-{n}"
            calls += [
                _keyed(client, "/api/products", {"sku": f"{sku}-p{n}", "name": "new"}, f"prod-{k}"),
                _keyed(client, "/api/transactions", {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2"},
                       f"sell-{k}"),
                _keyed(client, "/api/reservations", {"sku": sku, "quantity": 1, "order_ref": f"n-{n}"}, f"res-{k}"),
                _keyed(client, f"/api/reservations/{held[n]}/confirm", {"unit_price": "3.00"}, f"conf-{k}"),
                _keyed(client, f"/api/reservations/{held[4 + n]}/cancel", None, f"canc-{k}"),
                client.post("/api/import", content=csv.encode(), headers={"Idempotency-Key": f"imp-{sku}"}),
            ]
        replies = await asyncio.gather(*calls)
    assert all(r.status_code < 500 for r in replies), [(r.request.url.path, r.status_code, r.text) for r in replies]
    assert await anomalies(api) == []
    await _still_serving(small_pools, tokens["admin"])


async def test_a_poisoned_request_inside_a_busy_batch_fails_alone(api, small_pools, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 100, "1.00")
    one, two = _clients(small_pools, tokens["clerk"])
    sale = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2.00"}
    poison = json.dumps({**sale, "note": "x\ud800"})  # ASCII JSON with a lone surrogate escaped: \ud800
    async with one, two:
        replies = await asyncio.gather(*(
            (one, two)[i % 2].post("/api/transactions", content=poison, headers={"Content-Type": "application/json"})
            if i == 30 else (one, two)[i % 2].post("/api/transactions", json=sale)
            for i in range(60)
        ))  # fmt: skip
    codes = [r.status_code for r in replies]
    assert codes[:30] + codes[31:] == [201] * 59
    assert codes[30] == 400 and "note" in replies[30].text
    assert (await summary(api, sku))["on_hand"] == 41


async def test_killing_pool_connections_during_sales_loses_nothing_acknowledged(api, small_pools, tokens, db):
    sku = await make_product(api)
    await record(api, sku, "BUY", 400, "1.00")
    one, two = _clients(small_pools, tokens["clerk"])
    sale = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2.00"}

    async def killer() -> None:
        for _ in range(5):
            await asyncio.sleep(0.05)
            await db.execute("""SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                                WHERE pid <> pg_backend_pid() AND datname = current_database()
                                  AND application_name NOT LIKE 'stockroom-listener%'
                                  AND backend_type = 'client backend'""")

    async with one, two:
        sales = asyncio.gather(*((one, two)[i % 2].post("/api/transactions", json=sale) for i in range(200)),
                               return_exceptions=True)  # fmt: skip
        await killer()
        replies = await sales
    for r in replies:
        assert not isinstance(r, httpx.TimeoutException), "a request was never answered"
    answered = [r for r in replies if isinstance(r, httpx.Response)]
    acknowledged = [r.json()["id"] for r in answered if r.status_code == 201]
    assert all(r.status_code in (201, 503) for r in answered), Counter(r.status_code for r in answered)
    found = {row["id"] for row in await timeline(api, sku) if row["type"] == "SELL"}
    assert set(acknowledged) <= found  # nothing acknowledged is lost
    assert (await summary(api, sku))["on_hand"] == 400 - len(found)
    assert await anomalies(api) == []
    await _still_serving(small_pools, tokens["admin"])


async def test_products_another_process_holds_do_not_use_up_the_pool(api, small_pools, tokens, database_url):
    held = [await make_product(api) for _ in range(3)]
    other = await make_product(api)
    for sku in [*held, other]:
        await record(api, sku, "BUY", 50, "1.00")
    holder = await asyncpg.connect(database_url)
    ids = [await holder.fetchval("SELECT id FROM product WHERE sku = $1", sku) for sku in held]
    locks = holder.transaction()
    await locks.start()
    for product_id in ids:  # a long edit elsewhere holds these three products
        await holder.execute("SELECT pg_advisory_xact_lock($1, $2)", 0x5354, product_id)
    one, _ = _clients(small_pools, tokens["clerk"])
    sale = {"type": "SELL", "quantity": 1, "unit_price": "2.00"}
    try:
        async with one:
            waiting = [asyncio.create_task(one.post("/api/transactions", json={"sku": held[i % 3], **sale}))
                       for i in range(12)]  # fmt: skip
            await asyncio.sleep(0.5)  # let them queue first (if they have not, the test proves less, not more)
            for _ in range(6):  # a pool of 3 must still serve another product
                r = await one.post("/api/transactions", json={"sku": other, **sale})
                assert r.status_code == 201, r.text
            assert (await one.get("/readyz")).status_code == 200
            assert not any(t.done() for t in waiting)
            await locks.rollback()
            assert [(await t).status_code for t in waiting] == [201] * 12
    finally:
        if not holder.is_closed():
            await holder.close()
    assert [(await summary(api, sku))["on_hand"] for sku in held] == [46, 46, 46]
