"""Reservations arriving together commit together and still get their own answers."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from tests.integration.helpers import anomalies, make_product, record, summary

pytestmark = pytest.mark.integration


async def test_the_same_order_sent_many_times_at_once_holds_once(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    hold = {"sku": sku, "quantity": 3, "order_ref": "twice"}
    replies = await asyncio.gather(*(api.post("/api/reservations", json=hold) for _ in range(20)))
    assert Counter(r.status_code for r in replies) == Counter({201: 1, 200: 19})
    assert len({r.json()["id"] for r in replies}) == 1 and all(r.json()["id"] > 0 for r in replies)
    assert (await summary(api, sku))["reserved"] == 3


async def test_the_same_order_with_another_quantity_in_one_burst_is_a_conflict(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    replies = await asyncio.gather(*(
        api.post("/api/reservations", json={"sku": sku, "quantity": q, "order_ref": "mixed"}) for q in (2, 5, 2)
    ))  # fmt: skip
    codes = sorted(r.status_code for r in replies)
    assert codes in ([200, 201, 409], [201, 409, 409])  # whichever came first holds; other quantities conflict
    held = (await summary(api, sku))["reserved"]
    assert held in (2, 5)


async def test_a_burst_over_several_products_reserves_exactly_what_each_has(api):
    skus = [await make_product(api) for _ in range(3)]
    for sku in skus:
        await record(api, sku, "BUY", 7, "1.00")
    replies = await asyncio.gather(*(
        api.post("/api/reservations", json={"sku": skus[i % 3], "quantity": 1, "order_ref": f"b-{i}"})
        for i in range(60)
    ))  # fmt: skip
    assert Counter(r.status_code for r in replies) == Counter({201: 21, 409: 39})
    assert [(await summary(api, sku))["reserved"] for sku in skus] == [7, 7, 7]
    assert await anomalies(api) == []
