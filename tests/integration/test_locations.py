"""Stock locations through the JSON API (SPEC §2 "Stock locations"), on real PostgreSQL over real HTTP."""

from __future__ import annotations

import uuid

import pytest

from tests.integration.helpers import make_product, record, summary, timeline

pytestmark = pytest.mark.integration


async def new_location(api, kind: str = "storage") -> str:
    code = f"L-{uuid.uuid4().hex[:8]}"
    r = await api.post("/api/locations", json={"code": code, "name": f"Place {code}", "kind": kind})
    assert r.status_code == 201, r.text
    return code


def stock_by_location(product) -> dict[str, int]:
    return {x["location"]: x["on_hand"] for x in product["locations"]}


async def test_a_shop_with_one_location_keeps_everything_in_main_without_naming_it(api):
    sku = await make_product(api)
    bought = await record(api, sku, "BUY", 5, "2.00")
    assert (bought["location"], bought["location_stock_after"], bought["to_location"]) == ("MAIN", 5, None)
    product = await summary(api, sku)
    assert product["default_location"] == "MAIN"
    assert product["locations"] == [
        {"location": "MAIN", "on_hand": 5, "reserved": 0, "available": 5, "inventory_value": "10.00"}
    ]


async def test_a_transfer_moves_stock_between_locations_and_changes_no_cost_or_money(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-01T09:00:00+00:00")
    moved = await record(api, sku, "TRANSFER", 4, at="2026-01-02T09:00:00+00:00", to_location=store)
    assert (moved["stock_after"], moved["location_stock_after"], moved["to_location_stock_after"]) == (10, 6, 4)
    assert (moved["revenue"], moved["cogs"], moved["average_cost_after"]) == ("0.00", "0.00", "2.000000")
    sold = await record(api, sku, "SELL", 3, "5.00", at="2026-01-03T09:00:00+00:00", location=store)
    assert (sold["stock_after"], sold["location_stock_after"], sold["cogs"]) == (7, 1, "6.00")
    product = await summary(api, sku)
    assert stock_by_location(product) == {"MAIN": 6, store: 1} and product["on_hand"] == 7


async def test_a_sale_beyond_the_stock_at_its_location_is_refused_naming_the_location(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 2, at="2026-01-02T09:00:00+00:00", to_location=store)
    r = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 3, "unit_price": "5",
                                                  "location": store})  # fmt: skip
    assert r.status_code == 409, r.text
    extra = r.json()["extra"]
    assert (extra["location"], extra["stock_before"], extra["stock_after"]) == (store, 2, -1)
    assert f"at {store}" in r.json()["detail"]


async def test_moving_a_transfer_before_the_stock_that_covers_it_is_refused(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 5, "2.00", at="2026-01-05T09:00:00+00:00")
    moved = await record(api, sku, "TRANSFER", 5, at="2026-01-06T09:00:00+00:00", to_location=store)
    before = await timeline(api, sku)
    r = await api.patch(f"/api/transactions/{moved['id']}", json={"at": "2026-01-04T09:00:00+00:00"})
    assert r.status_code == 409, r.text
    assert (r.json()["extra"]["location"], r.json()["extra"]["transaction_id"]) == ("MAIN", moved["id"])
    assert await timeline(api, sku) == before


async def test_deleting_a_buy_a_later_transfer_needed_is_refused(api):
    sku, store = await make_product(api), await new_location(api)
    buy = await record(api, sku, "BUY", 5, "2.00", at="2026-01-05T09:00:00+00:00")
    moved = await record(api, sku, "TRANSFER", 5, at="2026-01-06T09:00:00+00:00", to_location=store)
    r = await api.delete(f"/api/transactions/{buy['id']}")
    assert r.status_code == 409
    assert r.json()["extra"]["transaction_id"] == moved["id"]


async def test_editing_a_rows_location_rechecks_both_locations(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 5, "2.00", at="2026-01-01T09:00:00+00:00")
    second = await record(api, sku, "BUY", 5, "2.00", at="2026-01-02T09:00:00+00:00")
    await record(api, sku, "SELL", 8, "3.00", at="2026-01-03T09:00:00+00:00")  # needs both BUYs in MAIN
    r = await api.patch(f"/api/transactions/{second['id']}", json={"location": store})
    assert r.status_code == 409 and r.json()["extra"]["location"] == "MAIN"
    # A later sale from the store makes the move fine; and moving it to the store passes both checks.
    await api.delete(f"/api/transactions/{(await timeline(api, sku))[-1]['id']}")
    r = await api.patch(f"/api/transactions/{second['id']}", json={"location": store})
    assert r.status_code == 200, r.text
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 5, store: 5}


async def test_goods_in_transit_are_two_transfers_and_a_count_counts_one_location(api):
    sku, store, van = await make_product(api), await new_location(api), await new_location(api, "transit")
    await record(api, sku, "BUY", 10, "3.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 6, at="2026-01-02T09:00:00+00:00", to_location=van)
    product = await summary(api, sku)
    assert stock_by_location(product) == {"MAIN": 4, van: 6} and product["on_hand"] == 10
    await record(api, sku, "TRANSFER", 6, at="2026-01-03T09:00:00+00:00", location=van, to_location=store)
    counted = await record(api, sku, "COUNT", 5, at="2026-01-04T09:00:00+00:00", location=store)
    assert (counted["stock_after"], counted["location_stock_after"], counted["write_off"]) == (9, 5, "3.00")
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 4, van: 0, store: 5}


async def test_a_backdated_buy_elsewhere_refolds_every_location_exactly(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-02T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 4, at="2026-01-03T09:00:00+00:00", to_location=store)
    await record(api, sku, "SELL", 4, "5.00", at="2026-01-04T09:00:00+00:00", location=store)
    await record(api, sku, "SELL", 6, "5.00", at="2026-01-05T09:00:00+00:00")
    await record(api, sku, "BUY", 10, "4.00", at="2026-01-01T09:00:00+00:00", location=store)
    rows = await timeline(api, sku)
    assert [(r["type"], r["location_stock_after"], r["stock_after"]) for r in rows] == [
        ("BUY", 10, 10), ("BUY", 10, 20), ("TRANSFER", 6, 20), ("SELL", 10, 16), ("SELL", 0, 10),
    ]  # fmt: skip
    assert [r["to_location_stock_after"] for r in rows if r["type"] == "TRANSFER"] == [14]
    assert rows[3]["cogs"] == "12.00"  # the average cost is the product's, across locations: 3.00


async def test_location_fields_are_checked(api):
    sku = await make_product(api)
    bad = [
        ({"type": "TRANSFER", "quantity": 1}, "to_location"),
        ({"type": "TRANSFER", "quantity": 1, "to_location": "MAIN"}, "to_location"),
        ({"type": "BUY", "quantity": 1, "unit_price": "1", "to_location": "MAIN"}, "to_location"),
        ({"type": "BUY", "quantity": 1, "unit_price": "1", "location": "NOWHERE-x"}, "location"),
        ({"type": "TRANSFER", "quantity": 1, "unit_price": "1", "to_location": "MAIN", "location": "NOWHERE-y"},
         "unit_price"),
        ({"type": "BUY", "quantity": 1, "unit_price": "1", "location": "bad code!"}, "location"),
    ]  # fmt: skip
    for body, field in bad:
        r = await api.post("/api/transactions", json={"sku": sku, **body})
        assert r.status_code == 400, (body, r.text)
        assert field in [e["field"] for e in r.json()["extra"]["errors"]], (body, r.text)
    assert (await summary(api, sku))["transaction_count"] == 0


async def test_locations_are_created_listed_renamed_and_show_their_stock(api):
    code = await new_location(api)
    r = await api.post("/api/locations", json={"code": code, "name": "again"})
    assert r.status_code == 409
    r = await api.post("/api/locations", json={"code": code.lower(), "name": "the same in lower case"})
    assert r.status_code == 409, r.text
    assert (await api.patch(f"/api/locations/{code}", json={"name": ""})).status_code == 400
    r = await api.patch(f"/api/locations/{code}", json={"name": "Back room"})
    assert r.status_code == 200 and r.json()["name"] == "Back room"
    codes = [x["code"] for x in (await api.get("/api/locations")).json()["items"]]
    assert codes[0] == "MAIN" and code in codes
    sku = await make_product(api)
    await record(api, sku, "BUY", 3, "1.00", location=code)
    r = await api.get(f"/api/locations/{code}/stock")
    assert r.json()["items"] == [{"sku": sku, "name": f"Product {sku}", "on_hand": 3, "reserved": 0, "available": 3}]
    assert (await api.get("/api/locations/NOPE-z/stock")).status_code == 404


async def test_a_products_default_location_takes_what_names_no_location(api):
    store = await new_location(api)
    sku = await make_product(api, default_location=store)
    bought = await record(api, sku, "BUY", 4, "1.00")
    assert bought["location"] == store and (await summary(api, sku))["default_location"] == store
    r = await api.patch(f"/api/products/{sku}", json={"default_location": "NOWHERE-q"})
    assert r.status_code == 400 and r.json()["extra"]["errors"][0]["field"] == "default_location"
    r = await api.patch(f"/api/products/{sku}", json={"default_location": "MAIN"})
    assert r.status_code == 200 and r.json()["default_location"] == "MAIN"
    assert stock_by_location(r.json()) == {store: 4}  # a new default moves no stock
    r = await api.post("/api/products", json={"sku": f"{sku}-2", "name": "x", "default_location": "NOWHERE-q"})
    assert r.status_code == 400
    van = await new_location(api, "transit")
    r = await api.patch(f"/api/products/{sku}", json={"default_location": van})  # sales never come off a van
    assert r.status_code == 400 and "transit" in r.text
    await api.patch(f"/api/products/{sku}", json={"default_location": store})
    r = await api.patch(f"/api/locations/{store}", json={"kind": "transit"})
    assert r.status_code == 409 and sku in r.json()["detail"]


async def test_a_location_created_with_an_idempotency_key_is_answered_the_same_when_sent_again(api):
    code = f"K-{uuid.uuid4().hex[:8]}"
    body, key = {"code": code, "name": "Second store"}, {"Idempotency-Key": f"loc-{code}"}
    first, *repeats = [await api.post("/api/locations", json=body, headers=key) for _ in range(3)]
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    for again in repeats:
        assert (again.status_code, again.content, again.headers["idempotent-replayed"]) == (201, first.content, "true")
    other = await api.post("/api/locations", json={**body, "name": "Another"}, headers=key)
    assert other.status_code == 422 and "idempotency_key" in other.text
    assert [x["code"] for x in (await api.get("/api/locations")).json()["items"]].count(code) == 1


async def test_each_location_of_a_product_is_valued_at_the_products_average_cost(api):
    sku, store = await make_product(api), await new_location(api)
    await record(api, sku, "BUY", 3, "1.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "BUY", 4, "2.00", at="2026-01-02T09:00:00+00:00")  # average 11 / 7
    await record(api, sku, "TRANSFER", 2, at="2026-01-03T09:00:00+00:00", to_location=store)
    product = await summary(api, sku)
    assert product["average_cost"] == "1.571429"
    values = {x["location"]: x["inventory_value"] for x in product["locations"]}
    assert values == {"MAIN": "7.86", store: "3.14"}  # 5 × 1.571429 and 2 × 1.571429, each to the cent
    assert product["inventory_value"] == "11.00"
