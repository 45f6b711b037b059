"""Each report against figures the test computes itself from the ledger it wrote."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.integration.helpers import every_product, make_product, new_sku, record, summary

pytestmark = pytest.mark.integration


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def report(api, name, **params):
    r = await api.get(f"/api/reports/{name}", params={"per": 5000, **params})  # every listed product, one page
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
async def shop(api):
    """Four products in their own category and brand, with known histories."""
    tag = new_sku("R")
    skus = {}
    skus["low"] = await make_product(api, category=tag, brand=f"{tag}-b1", low_stock_threshold=5, count_interval_days=7)
    skus["out"] = await make_product(api, category=tag, brand=f"{tag}-b1")
    skus["over"] = await make_product(api, category=tag, brand=f"{tag}-b2", overstock_threshold=50)
    skus["idle"] = await make_product(api, category=tag, count_interval_days=30)
    await record(api, skus["low"], "BUY", 20, "2.00", at=ago(20))
    await record(api, skus["low"], "COUNT", 18, at=ago(10))
    await record(api, skus["low"], "SELL", 14, "5.00", at=ago(3))
    await record(api, skus["out"], "BUY", 3, "1.00", at=ago(40))
    await record(api, skus["out"], "SELL", 3, "1.50", at=ago(40))
    await record(api, skus["over"], "BUY", 80, "0.3333", at=ago(5))
    await record(api, skus["over"], "SELL", 2, "1.00", at=ago(1))
    await record(api, skus["over"], "ADJUST", -1, at=ago(1), reason="damage")
    await record(api, skus["idle"], "BUY", 10, "9.99", at=ago(60))
    await record(api, skus["idle"], "COUNT", 10, at=ago(2))
    return tag, skus


async def test_summary_equals_the_sum_of_every_product(api, shop):
    products = await every_product(api)
    got = await report(api, "summary")
    assert got["products"] == len(products)
    assert got["on_hand"] == sum(p["on_hand"] for p in products)
    assert got["available"] == sum(p["available"] for p in products)
    for field in ("inventory_value", "revenue", "cogs", "realized_pl", "write_off", "gain"):
        assert Decimal(got[field]) == sum(Decimal(p[field]) for p in products), field
    assert sum(got["by_status"].values()) == len(products)
    assert got["by_status"]["out"] == sum(1 for p in products if p["status"] == "out")


async def test_low_out_and_overstock_list_the_right_products(api, shop):
    tag, skus = shop
    low = {p["sku"] for p in (await report(api, "low-stock"))["items"]}
    out = {p["sku"] for p in (await report(api, "out-of-stock"))["items"]}
    over = {p["sku"]: p for p in (await report(api, "overstock"))["items"]}
    assert skus["low"] in low and skus["low"] not in out
    assert skus["out"] in out and skus["out"] not in low
    assert skus["over"] in over and over[skus["over"]]["excess"] == 77 - 50
    assert skus["idle"] not in low | out | set(over)


async def test_needs_count_lists_never_counted_and_overdue_products(api, shop):
    _, skus = shop
    items = {p["sku"]: p for p in (await report(api, "needs-count"))["items"]}
    assert items[skus["out"]]["days_since_count"] is None  # never counted
    assert items[skus["low"]]["days_since_count"] == 10  # interval 7
    assert skus["idle"] not in items  # counted 2 days ago, interval 30


async def test_movers_rank_units_sold_in_the_window(api, shop):
    _, skus = shop
    fast = {p["sku"]: p["units_sold"] for p in (await report(api, "movers", days=7, limit=5000))["items"]}
    assert (fast[skus["low"]], fast[skus["over"]], fast[skus["out"]], fast[skus["idle"]]) == (14, 2, 0, 0)
    slow = [p["sku"] for p in (await report(api, "movers", days=7, order="slow", limit=5000))["items"]]
    assert slow.index(skus["idle"]) < slow.index(skus["over"]) < slow.index(skus["low"])


async def test_by_category_and_by_brand_total_their_products(api, shop):
    tag, skus = shop
    mine = [await summary(api, s) for s in skus.values()]
    row = next(r for r in (await report(api, "by-category"))["items"] if r["category"] == tag)
    assert row["products"] == 4
    assert row["on_hand"] == sum(p["on_hand"] for p in mine)
    assert Decimal(row["inventory_value"]) == sum(Decimal(p["inventory_value"]) for p in mine)
    assert Decimal(row["realized_pl"]) == sum(Decimal(p["realized_pl"]) for p in mine)
    brands = {r["brand"]: r for r in (await report(api, "by-brand"))["items"]}
    assert brands[f"{tag}-b1"]["products"] == 2 and brands[f"{tag}-b2"]["write_off"] == "0.33"


async def test_a_report_downloads_as_csv_and_an_unknown_one_is_404(api, shop):
    tag, _ = shop
    r = await api.get("/api/reports/by-category", params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert any(row["category"] == tag and row["products"] == "4" for row in rows)
    assert (await api.get("/api/reports/nonsense")).status_code == 404


async def test_a_listing_report_answers_a_page_at_a_time_and_the_pages_make_the_whole_list(api, shop):
    everything = await report(api, "needs-count")
    assert everything["page"] == 1 and everything["pages"] == 1 and everything["total"] == len(everything["items"])
    per = max(1, everything["total"] // 3)
    pages = [await report(api, "needs-count", per=per, page=n) for n in range(1, -(-everything["total"] // per) + 1)]
    assert all(p["total"] == everything["total"] and p["pages"] == len(pages) for p in pages)
    assert [i["sku"] for p in pages for i in p["items"]] == [i["sku"] for i in everything["items"]]
    assert (await report(api, "needs-count", per=per, page=len(pages) + 1))["items"] == []
    default = (await api.get("/api/reports/needs-count")).json()
    assert default["per"] == 500 and len(default["items"]) == min(500, everything["total"])
    valued = await report(api, "valuation", per=1)
    assert len(valued["items"]) == 1 and valued["totals"]["products"] == valued["total"]
    assert (await api.get("/api/reports/low-stock", params={"per": 0})).status_code == 400


async def test_movers_count_the_units_sold_in_any_window_as_sql_sums_them(api, db):
    """Whichever side the report reads (the window's sales, or each product's units_out less the sales
    before it), the units are those SQL sums from the ledger."""
    sku = await make_product(api)
    now = datetime.now(UTC)
    await record(api, sku, "BUY", 100, "1.00", at=(now - timedelta(days=3000)).isoformat())
    for days, units in ((2900, 5), (300, 7), (20, 4), (2, 3)):
        await record(api, sku, "SELL", units, "2.00", at=(now - timedelta(days=days)).isoformat())
    for window in (1, 10, 30, 400, 2950, 3600):
        since = now - timedelta(days=window)
        expected = {r["sku"]: r["sold"] for r in await db.fetch(
            """SELECT p.sku, coalesce(sum(t.quantity) FILTER (WHERE t.type = 'SELL' AND t.at >= $1), 0) AS sold
               FROM product p LEFT JOIN stock_transaction t ON t.product = p.id GROUP BY p.sku""", since)}  # fmt: skip
        items = (await report(api, "movers", days=window, limit=5000))["items"]
        got = {i["sku"]: i["units_sold"] for i in items}
        assert {k: v for k, v in got.items() if k in expected} == {k: expected[k] for k in got}, window
        assert got[sku] == sum(u for d, u in ((2900, 5), (300, 7), (20, 4), (2, 3)) if d < window), window


async def test_a_report_with_no_rows_downloads_its_header(api):
    """An empty file (a bare newline) told a spreadsheet nothing, not even which columns there would be."""
    place = new_sku("EMPTY").replace("-", "")[:30]
    assert (await api.post("/api/locations", json={"code": place, "name": "Nothing here"})).status_code == 201
    r = await api.get("/api/reports/out-of-stock", params={"format": "csv", "location": place})
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("sku,name,category,brand,"), r.text
    assert len(r.text.splitlines()) == 1
    anomalies = await api.get("/api/reports/anomalies", params={"format": "csv"})
    assert anomalies.text.splitlines()[0] == "sku,problems"
