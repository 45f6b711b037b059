"""Reports by location (`?location=`) and the replenishment report, against figures the test computes
from the ledger rows it wrote (SPEC §2 "Stock locations", §3 reports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from app.domain.summary import inventory_value
from app.services.reports import REPORTS
from tests.conftest import bearer
from tests.integration.helpers import make_product, record, timeline
from tests.integration.test_locations import new_location

pytestmark = pytest.mark.integration


def ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def report(api: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    r = await api.get(f"/api/reports/{name}", params={"per": 5000, **params})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def at_location_from_rows(rows: list[dict[str, Any]], code: str, moment: datetime | None = None) -> int | None:
    """The stock at `code` after the last row there (leaving or arriving) at or before `moment`, from
    the timeline's own figures; None when no row there by then."""
    units = None
    for row in rows:  # timeline order
        if moment is not None and datetime.fromisoformat(row["at"]) > moment:
            break
        if row["location"] == code:
            units = row["location_stock_after"]
        if row["to_location"] == code:
            units = row["to_location_stock_after"]
    return units


def cost_from_rows(rows: list[dict[str, Any]], moment: datetime | None = None) -> Decimal:
    """The product's average cost after its last row at or before `moment` (cost is per product)."""
    cost = Decimal(0)
    for row in rows:
        if moment is not None and datetime.fromisoformat(row["at"]) > moment:
            break
        cost = Decimal(row["average_cost_after"])
    return cost


def by_sku(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["sku"]: i for i in body["items"]}


async def test_low_and_out_of_stock_by_location_are_the_figures_there(api):
    store = await new_location(api)
    a = await make_product(api, low_stock_threshold=5)  # MAIN 3 (low), store 17 (ok)
    await record(api, a, "BUY", 20, "2.00", at=ago(10))
    await record(api, a, "TRANSFER", 17, at=ago(9), to_location=store)
    b = await make_product(api, low_stock_threshold=5)  # MAIN 0 (out), store 2 (low)
    await record(api, b, "BUY", 10, "3.00", at=ago(10))
    await record(api, b, "TRANSFER", 10, at=ago(9), to_location=store)
    await record(api, b, "SELL", 8, "5.00", at=ago(8), location=store)
    c = await make_product(api, default_location=store)  # nothing yet: out at the store

    low_store, out_store = (
        by_sku(await report(api, "low-stock", location=store)),
        by_sku(await report(api, "out-of-stock", location=store)),
    )
    assert set(low_store) == {b} and set(out_store) == {c}
    low_main, out_main = (
        by_sku(await report(api, "low-stock", location="MAIN")),
        by_sku(await report(api, "out-of-stock", location="MAIN")),
    )
    assert a in low_main and b not in low_main and b in out_main and a not in out_main and c not in out_main
    for sku, code, row in ((b, store, low_store[b]), (a, "MAIN", low_main[a]), (b, "MAIN", out_main[b])):
        rows = await timeline(api, sku)
        units = at_location_from_rows(rows, code)
        here = row["at_location"]
        assert (here["location"], here["on_hand"], here["reserved"], here["available"]) == (code, units, 0, units)
        assert Decimal(here["inventory_value"]) == inventory_value(units, cost_from_rows(rows))
        assert row["on_hand"] == rows[-1]["stock_after"]  # the product's own figures stay its totals
    assert out_store[c]["at_location"]["on_hand"] == 0
    assert (await report(api, "low-stock", location=store))["location"] == store


async def test_needs_count_by_location_reads_the_last_count_there(api):
    store = await new_location(api)
    sku = await make_product(api, count_interval_days=30)
    await record(api, sku, "BUY", 10, "1.00", at=ago(50))
    await record(api, sku, "TRANSFER", 4, at=ago(45), to_location=store)
    await record(api, sku, "COUNT", 6, at=ago(2))  # MAIN counted lately
    due_store = by_sku(await report(api, "needs-count", location=store))
    assert due_store[sku]["days_since_count"] is None and due_store[sku]["at_location"]["last_counted_at"] is None
    assert sku not in by_sku(await report(api, "needs-count", location="MAIN"))
    await record(api, sku, "COUNT", 4, at=ago(40), location=store)
    rows = await timeline(api, sku)
    counted_there = max(r["at"] for r in rows if r["type"] == "COUNT" and r["location"] == store)
    row = by_sku(await report(api, "needs-count", location=store))[sku]
    assert datetime.fromisoformat(row["at_location"]["last_counted_at"]) == datetime.fromisoformat(counted_there)
    assert row["days_since_count"] == (datetime.now(UTC) - datetime.fromisoformat(counted_there)).days == 40
    await record(api, sku, "COUNT", 4, at=ago(1), location=store)
    assert sku not in by_sku(await report(api, "needs-count", location=store))
    alone = await make_product(api, count_interval_days=30)  # only ever at MAIN: its last count is there
    await record(api, alone, "BUY", 3, "1.00", at=ago(50))
    await record(api, alone, "COUNT", 3, at=ago(35))
    assert by_sku(await report(api, "needs-count", location="MAIN"))[alone]["days_since_count"] == 35


async def test_valuation_at_a_past_date_by_location_equals_the_rows_until_then(api):
    store, van = await new_location(api), await new_location(api, "transit")
    skus = [await make_product(api), await make_product(api)]
    history = [  # (type, quantity, price, at, location, to_location)
        ("BUY", 10, "2.00", "2026-03-01T09:00:00+00:00", None, None),
        ("TRANSFER", 6, None, "2026-03-02T09:00:00+00:00", None, van),
        ("TRANSFER", 6, None, "2026-03-04T09:00:00+00:00", van, store),
        ("BUY", 5, "4.00", "2026-03-05T09:00:00+00:00", store, None),
        ("SELL", 3, "9.00", "2026-03-06T09:00:00+00:00", store, None),
        ("COUNT", 3, None, "2026-03-07T09:00:00+00:00", None, None),
        ("BUY", 2, "1.50", "2026-03-03T09:00:00+00:00", None, None),  # backdated
    ]
    for n, sku in enumerate(skus):
        for kind, quantity, price, at, location, to_location in history[: len(history) - n]:
            extra = {k: v for k, v in (("location", location), ("to_location", to_location)) if v}
            await record(api, sku, kind, quantity, price, at=at, **extra)
    moments = ["2026-03-01T12:00:00+00:00", "2026-03-03", "2026-03-04T12:00:00+00:00", "2026-03-06", "2026-12-01"]
    for at in moments:
        moment = datetime.fromisoformat(at) if "T" in at else datetime.fromisoformat(f"{at}T23:59:59.999999+00:00")
        for code in ("MAIN", store, van):
            body = await report(api, "valuation", at=at, location=code)
            assert body["location"] == code
            got = by_sku(body)
            for sku in skus:
                rows = await timeline(api, sku)
                units = at_location_from_rows(rows, code, moment)
                if units is None:
                    assert sku not in got, (at, code, sku)
                    continue
                cost = cost_from_rows(rows, moment)
                row = got[sku]
                assert (row["on_hand"], Decimal(row["average_cost"])) == (units, cost), (at, code, sku)
                assert Decimal(row["inventory_value"]) == inventory_value(units, cost)
            if code != "MAIN":  # a new location holds only these products: its totals are theirs
                assert body["totals"]["on_hand"] == sum(i["on_hand"] for i in body["items"])
                assert Decimal(body["totals"]["inventory_value"]) == sum(
                    Decimal(i["inventory_value"]) for i in body["items"]
                )


async def test_every_location_adds_up_to_the_whole(api):
    store = await new_location(api)
    sku = await make_product(api, low_stock_threshold=5)
    await record(api, sku, "BUY", 10, "2.00", at=ago(5))
    await record(api, sku, "TRANSFER", 7, at=ago(4), to_location=store)
    await record(api, sku, "SELL", 5, "6.00", at=ago(3), location=store)
    await record(api, sku, "ADJUST", -1, at=ago(2), location=store, reason="damage")
    at_store = await report(api, "summary", location=store)
    assert (at_store["location"], at_store["products"], at_store["on_hand"]) == (store, 1, 1)
    assert (at_store["revenue"], at_store["cogs"], at_store["write_off"]) == ("30.00", "10.00", "2.00")
    assert at_store["by_status"] == {"ok": 0, "low": 1, "out": 0}
    whole = await report(api, "summary")
    codes = [x["code"] for x in (await api.get("/api/locations")).json()["items"]]
    parts = [await report(api, "summary", location=code) for code in codes]
    for field in ("on_hand", "revenue", "cogs", "realized_pl", "write_off", "gain"):
        assert sum(Decimal(p[field]) for p in parts) == Decimal(whole[field]), field
    await record(api, sku, "SELL", 2, "6.00", at=ago(1))  # at MAIN
    movers = by_sku(await report(api, "movers", location=store, days=30))
    assert movers[sku]["units_sold"] == 5 and movers[sku]["at_location"]["on_hand"] == 1
    for days, order in ((30, "fast"), (3660, "slow")):  # the window's sales, or all of them less those before
        at_main = by_sku(await report(api, "movers", location="MAIN", days=days, order=order, limit=5000))
        assert at_main[sku]["units_sold"] == 2 and at_main[sku]["at_location"]["on_hand"] == 1
    alone = await make_product(api)  # only ever at the store: all its sales are there
    await record(api, alone, "BUY", 9, "1.00", at=ago(50), location=store)
    await record(api, alone, "SELL", 4, "2.00", at=ago(4), location=store)
    await record(api, alone, "SELL", 2, "2.00", at=ago(40), location=store)
    movers = by_sku(await report(api, "movers", location=store, days=30, order="slow", limit=5000))
    assert (movers[alone]["units_sold"], movers[sku]["units_sold"]) == (4, 5)
    at_main = by_sku(await report(api, "movers", location="MAIN", order="slow", limit=5000))
    assert (at_main[alone]["units_sold"], at_main[sku]["units_sold"]) == (
        0,
        2,
    )  # MAIN is its default location: kept there, nothing sold there
    grouped = (await report(api, "by-category", location=store))["items"]
    assert sum(g["on_hand"] for g in grouped) == 1 + 3  # both products at the store
    as_csv = await api.get("/api/reports/low-stock", params={"location": store, "format": "csv"})
    assert as_csv.status_code == 200 and "at_location_on_hand" in as_csv.text.splitlines()[0]


async def test_replenishment_lists_a_location_below_its_min_stock_with_a_source(api, server, tokens):
    store, back = await new_location(api), await new_location(api)
    sku = await make_product(api)
    await record(api, sku, "BUY", 20, "2.00", at=ago(5))
    await record(api, sku, "TRANSFER", 2, at=ago(4), to_location=store)
    await record(api, sku, "TRANSFER", 3, at=ago(4), to_location=back)
    r = await api.put(f"/api/products/{sku}/locations/{store}", json={"min_stock": 5})
    assert r.status_code == 200, r.text
    assert r.json() == {"sku": sku, "location": store, "min_stock": 5, "on_hand": 2}
    assert (await api.put(f"/api/products/{sku}/locations/MAIN", json={"min_stock": 10})).status_code == 200
    assert (await api.put(f"/api/products/{sku}/locations/{back}", json={"min_stock": 1})).status_code == 200
    body = await report(api, "replenishment", location=store)
    (row,) = [i for i in body["items"] if i["sku"] == sku]
    assert (row["location"], row["on_hand"], row["min_stock"], row["shortfall"]) == (store, 2, 5, 3)
    assert row["could_send"] == 3
    assert [(s["location"], s["on_hand"], s["spare"]) for s in row["sources"]] == [("MAIN", 15, 5), (back, 3, 2)]
    assert sku in {i["sku"] for i in (await report(api, "replenishment"))["items"]}
    assert (await api.put(f"/api/products/{sku}/locations/{store}", json={"min_stock": None})).status_code == 200
    assert sku not in {i["sku"] for i in (await report(api, "replenishment", location=store))["items"]}
    bad = await api.put(f"/api/products/{sku}/locations/{store}", json={"min_stock": -1})
    assert bad.status_code == 400 and bad.json()["extra"]["errors"][0]["field"] == "min_stock"
    assert (await api.put(f"/api/products/{sku}/locations/NOPE-x", json={"min_stock": 1})).status_code == 404
    assert (await api.put(f"/api/products/NOPE-{sku}/locations/{store}", json={"min_stock": 1})).status_code == 404
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["viewer"]), timeout=30) as viewer:
        assert (await viewer.put(f"/api/products/{sku}/locations/{store}", json={"min_stock": 1})).status_code == 403


async def test_an_unknown_location_is_a_400_naming_location_on_every_report(api):
    for name in REPORTS:
        r = await api.get(f"/api/reports/{name}", params={"location": "NOWHERE-z"})
        assert r.status_code == 400, (name, r.text)
        assert [e["field"] for e in r.json()["extra"]["errors"]] == ["location"], name
