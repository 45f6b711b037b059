"""A long backdated edit of one product holds only that product: sales of others go on."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.integration.helpers import make_product, product_with_buys, record, summary, timeline

pytestmark = pytest.mark.integration

ROWS = 6000  # the test server refolds in chunks of 3 to 12 rows: a first-row edit takes a while


async def _lock_is_held(db, product_id: int) -> None:  # type: ignore[no-untyped-def]
    """Poll pg_locks until some transaction holds the product's advisory lock."""
    for _ in range(6000):
        if await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND granted",
            0x5354, product_id,
        ):  # fmt: skip
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the edit never took the product's lock")


@pytest.mark.parametrize("where", ["same process", "other process"])
async def test_sales_of_other_products_commit_while_a_long_edit_holds_one(api, server, second_server, db, where):
    long_sku = await product_with_buys(api, ROWS)
    other = await make_product(api)
    await record(api, other, "BUY", 10, "1.00")
    first = (await timeline(api, long_sku))[0]
    product_id = await db.fetchval("SELECT id FROM product WHERE sku = $1", long_sku)
    sale = {"type": "SELL", "quantity": 1, "unit_price": "2.00"}
    url = server.url if where == "same process" else second_server.url
    async with httpx.AsyncClient(base_url=url, headers=api.headers, timeout=120) as seller:
        edit = asyncio.create_task(api.patch(f"/api/transactions/{first['id']}", json={"quantity": 2}))
        await asyncio.wait_for(_lock_is_held(db, product_id), 60)
        stuck = asyncio.create_task(seller.post("/api/transactions", json={"sku": long_sku, **sale}))
        await asyncio.sleep(0)
        for _ in range(5):  # each waits in the same queue as the sale of the edited product
            r = await seller.post("/api/transactions", json={"sku": other, **sale})
            assert r.status_code == 201, r.text
            assert not edit.done(), "a sale of another product waited for the edit to finish"
        assert (await edit).status_code == 200
        assert (await stuck).status_code == 201  # it waited for the edit, and was not lost
    assert (await summary(api, other))["on_hand"] == 5
    edited = await summary(api, long_sku)
    assert (edited["on_hand"], edited["units_out"]) == (ROWS + 1 - 1, 1)
