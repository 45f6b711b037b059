"""Ledger rules through the JSON API, against real PostgreSQL over real HTTP."""

from __future__ import annotations

import asyncio

import pytest

from tests.integration.helpers import anomalies, make_product, record, summary, timeline

pytestmark = pytest.mark.integration


async def test_backdated_buy_changes_the_cost_of_every_later_sell(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-01T09:00:00+00:00")
    s1 = await record(api, sku, "SELL", 5, "5.00", at="2026-01-10T09:00:00+00:00")
    s2 = await record(api, sku, "SELL", 5, "5.00", at="2026-01-20T09:00:00+00:00")
    assert (s1["cogs"], s2["cogs"]) == ("10.00", "10.00")

    await record(api, sku, "BUY", 10, "4.00", at="2026-01-05T09:00:00+00:00")

    rows = await timeline(api, sku)
    sells = [r for r in rows if r["type"] == "SELL"]
    assert [(r["cogs"], r["realized_pl"], r["average_cost_after"]) for r in sells] == [
        ("15.00", "10.00", "3.000000"),
        ("15.00", "10.00", "3.000000"),
    ]
    product = await summary(api, sku)
    assert (product["on_hand"], product["cogs"], product["realized_pl"], product["inventory_value"]) == (
        10,
        "30.00",
        "20.00",
        "30.00",
    )
    assert await anomalies(api) == []


async def test_deleting_early_buy_makes_later_sell_fail_and_changes_nothing(api, db):
    sku = await make_product(api)
    early = await record(api, sku, "BUY", 5, "2.00", at="2026-02-01T09:00:00+00:00")
    await record(api, sku, "BUY", 5, "2.00", at="2026-02-02T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 8, "3.00", at="2026-02-03T09:00:00+00:00")
    before = (await timeline(api, sku), await summary(api, sku))

    r = await api.delete(f"/api/transactions/{early['id']}")

    assert r.status_code == 409
    body = r.json()
    assert body["extra"]["transaction_id"] == sell["id"]
    assert body["extra"]["stock_after"] == -3
    assert body["extra"]["at"].startswith("2026-02-03T09:00:00")
    assert "the sale of 8 on Feb 3, 2026 09:00" in body["detail"] and "-3" in body["detail"]
    assert (await timeline(api, sku), await summary(api, sku)) == before
    assert await db.fetchval("SELECT count(*) FROM audit_log WHERE transaction_id = $1", early["id"]) == 0


async def test_moving_a_sell_before_the_stock_that_covers_it_is_rejected(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "2.00", at="2026-03-02T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 5, "3.00", at="2026-03-03T09:00:00+00:00")

    r = await api.patch(f"/api/transactions/{sell['id']}", json={"at": "2026-03-01T09:00:00+00:00"})

    assert r.status_code == 409
    assert r.json()["extra"]["transaction_id"] == sell["id"]
    assert r.json()["extra"]["stock_after"] == -5
    assert (await summary(api, sku))["on_hand"] == 0


async def test_a_count_absorbs_an_earlier_backdated_loss(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00", at="2026-04-01T09:00:00+00:00")
    count = await record(api, sku, "COUNT", 6, at="2026-04-05T09:00:00+00:00")
    assert count["write_off"] == "4.00"

    await record(api, sku, "ADJUST", -3, at="2026-04-03T09:00:00+00:00", reason="theft")

    rows = {r["id"]: r for r in await timeline(api, sku)}
    assert rows[count["id"]]["write_off"] == "1.00"
    product = await summary(api, sku)
    assert (product["on_hand"], product["write_off"], product["last_counted_at"][:10]) == (6, "4.00", "2026-04-05")


async def test_equal_times_are_ordered_by_ingestion(api):
    sku = await make_product(api)
    at = "2026-05-01T12:00:00+00:00"
    await record(api, sku, "SELL", 1, "1.00", at=at, expect=409)
    buy = await record(api, sku, "BUY", 1, "1.00", at=at)
    sell = await record(api, sku, "SELL", 1, "2.00", at=at)
    assert [r["id"] for r in await timeline(api, sku)] == [buy["id"], sell["id"]]
    # Moving the BUY later than the SELL at the same instant is impossible: seq never changes.
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"at": "2026-05-01T12:00:01+00:00"})
    assert r.status_code == 409 and r.json()["extra"]["transaction_id"] == sell["id"]


async def test_editing_a_transaction_to_another_product_recomputes_both(api, db):
    a, b = await make_product(api), await make_product(api)
    await record(api, a, "BUY", 4, "1.00", at="2026-06-01T09:00:00+00:00")
    moved = await record(api, a, "BUY", 4, "3.00", at="2026-06-02T09:00:00+00:00")
    await record(api, b, "BUY", 2, "5.00", at="2026-06-01T09:00:00+00:00")

    r = await api.patch(f"/api/transactions/{moved['id']}", json={"sku": b, "quantity": 2})

    assert r.status_code == 200, r.text
    assert r.json()["sku"] == b and r.json()["seq"] == moved["seq"]
    pa, pb = await summary(api, a), await summary(api, b)
    assert (pa["on_hand"], pa["average_cost"], pa["transaction_count"]) == (4, "1.000000", 1)
    assert (pb["on_hand"], pb["average_cost"], pb["transaction_count"]) == (4, "4.000000", 2)
    audit = await db.fetchrow("SELECT action, before, after FROM audit_log WHERE transaction_id = $1", moved["id"])
    assert audit["action"] == "edit" and f'"sku": "{a}"' in audit["before"] and f'"sku": "{b}"' in audit["after"]
    assert await anomalies(api) == []


async def test_moving_a_transaction_away_is_rejected_when_the_old_product_needs_it(api):
    a, b = await make_product(api), await make_product(api)
    buy = await record(api, a, "BUY", 3, "1.00", at="2026-06-01T09:00:00+00:00")
    await record(api, a, "SELL", 2, "2.00", at="2026-06-02T09:00:00+00:00")
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"sku": b})
    assert r.status_code == 409 and r.json()["extra"]["sku"] == a
    assert (await summary(api, b))["transaction_count"] == 0


async def test_changing_type_clears_fields_the_new_type_does_not_take(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 5, "2.00", at="2026-07-01T09:00:00+00:00")
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"type": "COUNT", "quantity": 0})
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["unit_price"], r.json()["stock_after"]) == ("COUNT", None, 0)
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"type": "ADJUST", "quantity": 2})
    assert r.status_code == 400 and "reason" in r.json()["detail"]


async def test_a_sale_turned_into_a_write_off_drops_its_price_which_a_write_off_does_not_take(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-07-01T09:00:00+00:00")
    sale = await record(api, sku, "SELL", 3, "5.00", at="2026-07-02T09:00:00+00:00")
    r = await api.patch(f"/api/transactions/{sale['id']}", json={"type": "ADJUST", "quantity": -3, "reason": "damage"})
    assert r.status_code == 200, r.text
    assert (r.json()["type"], r.json()["unit_price"], r.json()["write_off"]) == ("ADJUST", None, "6.00")
    named = await api.patch(f"/api/transactions/{sale['id']}", json={"quantity": -2, "unit_price": "1.00"})
    assert named.status_code == 400 and "only taken by an ADJUST that adds stock" in named.text  # named: refused


async def test_dry_run_reports_before_and_after_and_commits_nothing(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-08-01T09:00:00+00:00")
    await record(api, sku, "SELL", 4, "5.00", at="2026-08-02T09:00:00+00:00")
    before = (await timeline(api, sku), await summary(api, sku))

    patch = await api.patch(f"/api/transactions/{buy['id']}?dry_run=true", json={"unit_price": "3.00"})
    post = await api.post(
        "/api/transactions?dry_run=true", json={"sku": sku, "type": "SELL", "quantity": 6, "unit_price": "1"}
    )
    delete = await api.delete(f"/api/transactions/{buy['id']}?dry_run=true")

    assert patch.status_code == 200 and patch.json()["after"]["realized_pl"] == "8.00"
    assert patch.json()["before"]["realized_pl"] == "12.00"
    assert post.status_code == 200 and post.json()["after"]["on_hand"] == 0
    assert delete.status_code == 409
    assert (await timeline(api, sku), await summary(api, sku)) == before


async def test_edit_and_delete_are_kept_in_the_audit_log(api, db):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-08-01T09:00:00+00:00", note="first")
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"note": "corrected", "unit_price": "2.10"})
    assert r.status_code == 200
    assert (await api.delete(f"/api/transactions/{buy['id']}")).status_code == 204
    rows = await db.fetch(
        "SELECT action, before, after FROM audit_log WHERE transaction_id = $1 ORDER BY id", buy["id"]
    )
    assert [r["action"] for r in rows] == ["edit", "delete"]
    assert '"note": "first"' in rows[0]["before"] and '"unit_price": "2.1000"' in rows[0]["after"]
    assert rows[1]["after"] is None
    assert (await summary(api, sku))["on_hand"] == 0


async def test_monthly_figures_sum_each_month_and_close_with_its_last_row(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-15T09:00:00+00:00")
    await record(api, sku, "SELL", 3, "5.00", at="2026-01-20T09:00:00+00:00")
    await record(api, sku, "BUY", 10, "4.00", at="2026-02-03T09:00:00+00:00")
    await record(api, sku, "ADJUST", -1, at="2026-02-04T09:00:00+00:00", reason="damage")
    r = await api.get(f"/api/products/{sku}/monthly")
    assert r.json()["items"] == [
        {
            "month": "2026-01",
            "bought": 10,
            "sold": 3,
            "adjusted": 0,
            "revenue": "15.00",
            "cogs": "6.00",
            "realized_pl": "9.00",
            "write_off": "0.00",
            "gain": "0.00",
            "closing_stock": 7,
            "closing_average_cost": "2.000000",
        },
        {
            "month": "2026-02",
            "bought": 10,
            "sold": 0,
            "adjusted": -1,
            "revenue": "0.00",
            "cogs": "0.00",
            "realized_pl": "0.00",
            "write_off": "3.18",
            "gain": "0.00",
            "closing_stock": 16,
            "closing_average_cost": "3.176471",
        },
    ]
    product = await summary(api, sku)
    assert (product["damaged"], product["units_in"], product["units_out"]) == (1, 20, 3)


async def test_timeline_pages_in_timeline_order(api):
    sku = await make_product(api)
    for day in (5, 1, 3):
        await record(api, sku, "BUY", day, "1.00", at=f"2026-09-0{day}T09:00:00+00:00")
    r = await api.get(f"/api/products/{sku}/transactions", params={"limit": 2, "offset": 1})
    assert r.json()["total"] == 3
    assert [x["quantity"] for x in r.json()["items"]] == [3, 5]
    assert [x["stock_after"] for x in r.json()["items"]] == [4, 9]
    assert (await api.get(f"/api/products/{sku}/transactions", params={"limit": 5001})).status_code == 400


async def test_a_deep_edit_refolds_every_later_row_across_read_chunks(api):
    """The test server reads refolds 3 rows at a time, so this crosses several chunk boundaries."""
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 100, "2.00", at="2026-10-01T08:00:00+00:00")
    for hour in range(9, 19):
        for minute in (0, 30):
            await record(api, sku, "SELL", 1, "5.00", at=f"2026-10-01T{hour:02d}:{minute:02d}:00+00:00")
    await record(api, sku, "BUY", 10, "4.00", at="2026-10-02T08:00:00+00:00")

    r = await api.patch(f"/api/transactions/{buy['id']}", json={"quantity": 150, "unit_price": "3.00"})

    assert r.status_code == 200, r.text
    rows = await timeline(api, sku)
    assert [x["stock_after"] for x in rows] == [150, *range(149, 129, -1), 140]
    assert all(x["cogs"] == "3.00" for x in rows if x["type"] == "SELL")
    assert rows[-1]["average_cost_after"] == "3.071429"  # (130·3 + 10·4) / 140
    product = await summary(api, sku)
    assert (product["on_hand"], product["cogs"], product["average_cost"]) == (140, "60.00", "3.071429")
    assert await anomalies(api) == []


async def _ten_sold_of_ten(api) -> tuple[str, dict]:
    """A BUY of 10, then nine single SELLs an hour apart: 1 left. The test server refolds
    3 rows at a time, so a change at the start spans several chunks."""
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-10-05T08:00:00+00:00")
    for hour in range(9, 18):
        await record(api, sku, "SELL", 1, "5.00", at=f"2026-10-05T{hour:02d}:00:00+00:00")
    return sku, buy


async def test_an_edit_rejected_chunks_after_the_first_leaves_every_row_as_it_was(api):
    sku, buy = await _ten_sold_of_ten(api)
    before = (await timeline(api, sku), await summary(api, sku))

    r = await api.patch(f"/api/transactions/{buy['id']}", json={"quantity": 8})

    assert r.status_code == 409, r.text
    assert r.json()["extra"]["stock_after"] == -1
    assert (await timeline(api, sku), await summary(api, sku)) == before


async def test_a_rejected_backdated_sale_in_a_batch_of_good_ones_writes_nothing_of_its_refold(api):
    """Sales queued together commit in one transaction; a rejected one among them must take
    back the figures its refold already sent for earlier chunks, while the others commit."""
    sku, _ = await _ten_sold_of_ten(api)
    other = await make_product(api)
    await record(api, other, "BUY", 1000, "1.00")
    before = (await timeline(api, sku), await summary(api, sku))

    for _ in range(3):
        bad = {"sku": sku, "type": "SELL", "quantity": 2, "unit_price": "5.00", "at": "2026-10-05T08:30:00+00:00"}
        good = {"sku": other, "type": "SELL", "quantity": 1, "unit_price": "2.00"}
        bodies = [good] * 10 + [bad] + [good] * 10
        answers = await asyncio.gather(*(api.post("/api/transactions", json=b) for b in bodies))
        assert [a.status_code for a in answers] == [201] * 10 + [409] + [201] * 10

    assert (await timeline(api, sku), await summary(api, sku)) == before
    assert (await summary(api, other))["on_hand"] == 1000 - 60
    assert await anomalies(api) == []
