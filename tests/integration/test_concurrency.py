"""Never oversell, never lose a transaction: many buyers at once, in one process and across two."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest

from tests.integration.helpers import anomalies, make_product, record, summary, timeline

pytestmark = pytest.mark.integration


async def _sell_once(client: httpx.AsyncClient, sku: str) -> int:
    r = await client.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "9.99"})
    return r.status_code


async def _rush(urls: list[str], sku: str, buyers: int, headers: httpx.Headers) -> Counter[int]:
    limits = httpx.Limits(max_connections=buyers, max_keepalive_connections=buyers)
    clients = [httpx.AsyncClient(base_url=u, timeout=120, limits=limits, headers=headers) for u in urls]
    try:
        statuses = await asyncio.gather(*(_sell_once(clients[i % len(clients)], sku) for i in range(buyers)))
    finally:
        for c in clients:
            await c.aclose()
    return Counter(statuses)


async def _assert_sold_out_exactly(api: httpx.AsyncClient, sku: str, statuses: Counter[int]) -> None:
    assert statuses == Counter({201: 300, 409: 700})
    product = await summary(api, sku)
    assert (product["on_hand"], product["units_out"], product["revenue"]) == (0, 300, "2997.00")
    rows = await timeline(api, sku)
    assert len(rows) == 301
    assert all(r["stock_after"] >= 0 for r in rows)
    assert [r["stock_after"] for r in rows[1:]] == list(range(299, -1, -1))


async def test_a_thousand_buyers_of_300_units_get_exactly_300_sales(api, server):
    sku = await make_product(api)
    await record(api, sku, "BUY", 300, "4.00")
    statuses = await _rush([server.url], sku, 1000, api.headers)
    await _assert_sold_out_exactly(api, sku, statuses)


async def test_a_thousand_buyers_across_two_processes_get_exactly_300_sales(api, server, second_server):
    sku = await make_product(api)
    await record(api, sku, "BUY", 300, "4.00")
    statuses = await _rush([server.url, second_server.url], sku, 1000, api.headers)
    await _assert_sold_out_exactly(api, sku, statuses)
    assert await anomalies(api) == []


async def _backdated_edits(url: str, sku: str, buy_ids: list[int], rounds: int, headers: httpx.Headers) -> Counter[int]:
    rng = random.Random(42)
    seen: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=url, timeout=60, headers=headers) as client:
        for _ in range(rounds):
            tx = rng.choice(buy_ids)
            change = rng.choice(
                [
                    {"quantity": rng.randint(1, 40)},
                    {"unit_price": f"{rng.randint(1, 900)}.25"},
                    {"at": f"2026-01-{rng.randint(1, 28):02d}T08:00:00+00:00"},
                ]
            )
            r = await client.patch(f"/api/transactions/{tx}", json=change)
            seen[r.status_code] += 1
    return seen


async def test_backdated_edits_racing_new_sales_never_leave_a_negative_point(api, server, second_server):
    sku = await make_product(api)
    buys = [await record(api, sku, "BUY", 20, "3.00", at=f"2026-01-{d:02d}T08:00:00+00:00") for d in (2, 9, 16)]
    ids = [b["id"] for b in buys]

    edits = [_backdated_edits(u, sku, ids, 60, api.headers) for u in (server.url, second_server.url)]
    sales = _rush([server.url, second_server.url], sku, 120, api.headers)
    *edit_statuses, sale_statuses = await asyncio.gather(*edits, sales)

    assert set(sale_statuses) <= {201, 409}
    assert all(set(s) <= {200, 409} for s in edit_statuses), edit_statuses
    rows = await timeline(api, sku)
    assert all(r["stock_after"] >= 0 for r in rows)
    product = await summary(api, sku)
    assert product["on_hand"] == rows[-1]["stock_after"]
    assert product["units_out"] == sale_statuses[201] == sum(1 for r in rows if r["type"] == "SELL")
    assert await anomalies(api) == []
