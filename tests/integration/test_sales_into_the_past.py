"""Sales that go into a product's past (dated a few seconds back, as an order system sends its order's
time, or any sale once a row is dated later) arriving together: placed exactly, refused exactly."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.helpers import anomalies, make_product, record, summary, timeline

pytestmark = pytest.mark.integration


def _seconds_ago(seconds: float) -> str:
    return (datetime.now(UTC) - timedelta(seconds=seconds)).isoformat()


async def _sell_all(api: httpx.AsyncClient, sku: str, dates: list[str | None]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(dates), max_keepalive_connections=len(dates))
    async with httpx.AsyncClient(base_url=str(api.base_url), headers=api.headers, timeout=120, limits=limits) as many:

        async def sell(at: str | None) -> httpx.Response:
            body: dict[str, Any] = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "9.99"}
            return await many.post("/api/transactions", json=body | ({"at": at} if at else {}))

        return list(await asyncio.gather(*(sell(at) for at in dates)))


def _assert_a_whole_timeline(rows: list[dict[str, Any]], bought: int) -> None:
    """Oldest first: the BUY, then one unit less at every sale, never below 0."""
    assert rows[0]["type"] == "BUY"
    assert [r["stock_after"] for r in rows] == list(range(bought, bought - len(rows), -1))


async def test_sales_dated_seconds_back_among_undated_ones_are_all_placed_in_time_order(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 1000, "4.00", at=_seconds_ago(3600))
    rng = random.Random(7)
    dates = [_seconds_ago(rng.uniform(0, 10)) if n % 2 else None for n in range(300)]
    answers = await _sell_all(api, sku, dates)
    assert Counter(r.status_code for r in answers) == Counter({201: 300})
    rows = await timeline(api, sku)
    assert len(rows) == 301
    _assert_a_whole_timeline(rows, 1000)
    assert [(r["at"], r["seq"]) for r in rows] == sorted((r["at"], r["seq"]) for r in rows)
    stored = {r["id"]: r for r in rows}
    for answer in answers:  # the answered row is the stored one (its figures may move with later rows)
        sold = answer.json()
        assert (stored[sold["id"]]["seq"], stored[sold["id"]]["at"]) == (sold["seq"], sold["at"])
    product = await summary(api, sku)
    assert (product["on_hand"], product["units_out"], product["revenue"]) == (700, 300, "2997.00")
    assert await anomalies(api) == []


async def test_behind_a_row_dated_later_sales_arriving_together_share_one_placing(api):
    """A SELL dated four minutes ahead puts every undated sale of the product into its past until then.
    Sales that come together are placed by one refold: each is answered with its row and the product
    after all of them (one refold each made that product about 5× slower to sell)."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 1000, "4.00", at=_seconds_ago(3600))
    ahead = await record(api, sku, "SELL", 1, "9.99", at=(datetime.now(UTC) + timedelta(minutes=4)).isoformat())
    answers = await _sell_all(api, sku, [None] * 300)
    assert Counter(r.status_code for r in answers) == Counter({201: 300})
    rows = await timeline(api, sku)
    assert rows[-1]["id"] == ahead["id"] and rows[-1]["stock_after"] == 1000 - 301
    _assert_a_whole_timeline(rows, 1000)
    shown_after = [a.json()["product"]["on_hand"] for a in answers]
    assert min(shown_after) == 699
    assert len(set(shown_after)) < len(shown_after), "no two sales were placed together"
    assert await anomalies(api) == []


async def test_a_sell_out_by_sales_dated_seconds_back_sells_exactly_the_stock(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 100, "4.00", at=_seconds_ago(3600))
    rng = random.Random(11)
    answers = await _sell_all(api, sku, [_seconds_ago(rng.uniform(0, 10)) for _ in range(300)])
    assert Counter(r.status_code for r in answers) == Counter({201: 100, 409: 200})
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["detail"], refused.text
    rows = await timeline(api, sku)
    _assert_a_whole_timeline(rows, 100)
    assert rows[-1]["stock_after"] == 0
    assert await anomalies(api) == []
