"""Every page of a past valuation (`GET /api/reports/valuation?at=&page=&per=`), walked to the end, is the
catalogue as this test reads it from the stored rows itself, with the same totals on every page; and a
change committed by another process (a backdated purchase) shows in the next request's pages and totals,
though each process keeps a valuation's sums until a change (issue 13: `UntilChange`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Server, bearer
from tests.integration.helpers import record

pytestmark = pytest.mark.integration

AT = "2025-06-01T00:00:00+00:00"
PER = 37  # pages that start on either side of the every-100th-product marks


async def expected(db: asyncpg.Connection) -> tuple[list[dict[str, Any]], dict[str, Any], dict[Any, dict[str, Any]]]:
    """Each product's position after its last row at or before AT (from the stored running figures), by SKU;
    the totals; the totals per category."""
    rows = await db.fetch(
        """SELECT DISTINCT ON (t.product) p.sku, p.category, t.stock_after, t.average_cost_after
           FROM stock_transaction t JOIN product p ON p.id = t.product
           WHERE t.at <= $1 ORDER BY t.product, t.at DESC, t.seq DESC""",
        datetime.fromisoformat(AT),
    )  # fmt: skip
    items = sorted(
        ({"sku": r["sku"], "category": r["category"], "on_hand": r["stock_after"],
          "average_cost": r["average_cost_after"],
          "inventory_value": (r["stock_after"] * r["average_cost_after"]).quantize(Decimal("0.01"), ROUND_HALF_EVEN)}
         for r in rows),
        key=lambda i: i["sku"],
    )  # fmt: skip
    by_category: dict[Any, dict[str, Any]] = {}
    for i in items:
        group = by_category.setdefault(i["category"], {"products": 0, "on_hand": 0, "inventory_value": Decimal(0)})
        group["products"] += 1
        group["on_hand"] += i["on_hand"]
        group["inventory_value"] += i["inventory_value"]
    totals = {"products": len(items), "on_hand": sum(i["on_hand"] for i in items),
              "inventory_value": sum((i["inventory_value"] for i in items), Decimal(0))}  # fmt: skip
    return items, totals, by_category


async def walked(client: httpx.AsyncClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page's items, in order, and every page's body without them."""
    items, pages, page = [], [], 1
    while True:
        r = await client.get("/api/reports/valuation", params={"at": AT, "page": page, "per": PER})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body.pop("items")
        pages.append(body)
        if page >= body["pages"]:
            beyond = await client.get("/api/reports/valuation", params={"at": AT, "page": page + 1, "per": PER})
            assert beyond.json()["items"] == []
            return items, pages
        page += 1


def as_shown(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(i["sku"], i["on_hand"], Decimal(i["average_cost"]), Decimal(i["inventory_value"])) for i in items]


async def check(client: httpx.AsyncClient, db: asyncpg.Connection) -> int:
    want_items, want_totals, want_groups = await expected(db)
    assert len(want_items) > 2 * 100, len(want_items)  # deep pages start from a mark past the first
    for _ in range(2):  # the first walk sums (or reads what was kept), the second reads what was kept
        items, pages = await walked(client)
        assert as_shown(items) == as_shown(want_items)
        for body in pages:
            totals = body["totals"]
            assert (totals["products"], totals["on_hand"], Decimal(totals["inventory_value"])) == (
                want_totals["products"], want_totals["on_hand"], want_totals["inventory_value"])  # fmt: skip
            groups = {g["category"]: {"products": g["products"], "on_hand": g["on_hand"],
                                      "inventory_value": Decimal(g["inventory_value"])}
                      for g in body["by_category"]}  # fmt: skip
            assert groups == want_groups
            assert body["total"] == len(want_items) and body["pages"] == -(-len(want_items) // PER)
    return len(want_items)


async def test_every_page_of_a_past_valuation_and_a_change_from_another_process(
    server: Server, second_server: Server, tokens: dict[str, str], db: asyncpg.Connection
):
    tag = f"vp{uuid.uuid4().hex[:8]}"
    lines = ["external_id,sku,product_name,type,quantity,unit_price,at"]
    for n in range(260):
        sku = f"{tag}-{n:03d}"
        first = (
            "2025-09-01T09:00:00+00:00" if n % 5 == 0 else f"2025-03-01T09:{n % 60:02d}:00+00:00"
        )  # after AT: not valued
        lines.append(f"{sku}-1,{sku},Tea {n},BUY,{10 + n % 4},{1 + n % 3}.{n % 100:02d}5,{first}")
        if n % 3 == 0:  # later activity: valued by a probe of the ledger, not from the product row
            lines.append(f"{sku}-2,{sku},,SELL,{1 + n % 7},2.00,2025-10-01T09:00:00+00:00")
        if n % 4 == 1:  # a second purchase before AT: an average cost of many places
            lines.append(f"{sku}-3,{sku},,BUY,7,0.3333,2025-04-01T09:00:00+00:00")
    headers = bearer(tokens["admin"])
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=60, headers=headers) as a,
        httpx.AsyncClient(base_url=second_server.url, timeout=60, headers=headers) as b,
    ):
        r = await b.post("/api/import", content="\n".join(lines).encode(), headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text
        before = await check(a, db)

        # A purchase backdated before AT, through the other process, of a product that had no history then.
        await record(b, f"{tag}-010", "BUY", 3, "2.25", at="2025-05-01T09:00:00+00:00")
        assert await check(a, db) == before + 1
        # A category changed through the other process: the totals per category follow.
        assert (await b.patch(f"/api/products/{tag}-001", json={"category": tag})).status_code == 200
        assert await check(a, db) == before + 1
