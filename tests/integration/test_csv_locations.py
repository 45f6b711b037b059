"""CSV import and export with stock locations (SPEC §2 "Stock locations"): `location` and
`to_location` columns, a TRANSFER row, an unknown location refused naming its line, and a file
exported then imported into a fresh database giving the same figures at every location."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.helpers import anomalies, make_product, new_sku, record, summary, timeline
from tests.integration.test_csv import NOT_IN_CSV, fresh_server  # noqa: F401 (a fixture)
from tests.integration.test_locations import new_location, stock_by_location

pytestmark = pytest.mark.integration
LOCATED = ("location", "to_location", "location_stock_after", "to_location_stock_after")


async def _import(api: httpx.AsyncClient, lines: list[str]) -> httpx.Response:
    return await api.post("/api/import", content="\n".join(lines).encode(), headers={"content-type": "text/csv"})


def _errors(r: httpx.Response) -> set[tuple[int, str]]:
    assert r.status_code == 400, r.text
    return {(e["line"], e["field"]) for e in r.json()["extra"]["errors"]}


async def test_export_then_import_into_a_fresh_database_gives_the_same_figures_at_every_location(
    api,
    fresh_server,  # noqa: F811
):
    store, transit = await new_location(api), await new_location(api, kind="transit")
    sku = await make_product(api, default_location=store, low_stock_threshold=2)
    at = "2026-04-0{}T09:00:00+00:00".format
    await record(api, sku, "BUY", 20, "1.50", at=at(1), location="MAIN")
    await record(api, sku, "TRANSFER", 8, at=at(2), location="MAIN", to_location=transit)  # shipped
    await record(api, sku, "TRANSFER", 8, at=at(3), location=transit, to_location=store)  # received
    await record(api, sku, "SELL", 3, "4.00", at=at(4))  # at its default location, the store
    await record(api, sku, "COUNT", 4, at=at(5), location=store)  # one lost in the store
    await record(api, sku, "BUY", 6, "2.10", at=at(6), location=store)
    other = await make_product(api)  # one location, as before locations existed
    await record(api, other, "BUY", 3, "1.00", at=at(1))

    exported = {s: (await api.get("/api/transactions.csv", params={"sku": s})).text for s in (sku, other)}
    rows = list(csv.DictReader(io.StringIO(exported[sku], newline="")))
    assert [(r["type"], r["location"], r["to_location"], r["location_stock_after"], r["to_location_stock_after"])
            for r in rows] == [
        ("BUY", "MAIN", "", "20", ""), ("TRANSFER", "MAIN", transit, "12", "8"),
        ("TRANSFER", transit, store, "0", "8"), ("SELL", store, "", "5", ""), ("COUNT", store, "", "4", ""),
        ("BUY", store, "", "10", ""),
    ]  # fmt: skip
    assert {r["default_location"] for r in rows} == {store}

    async with httpx.AsyncClient(base_url=fresh_server.url, timeout=300, headers=bearer(fresh_server.token)) as fresh:
        body = exported[sku] + exported[other].split("\r\n", 1)[1]  # one header
        refused = await fresh.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
        assert (3, "to_location") in _errors(refused)  # the fresh database has no such locations yet
        assert (await fresh.get(f"/api/products/{sku}")).status_code == 404  # nothing imported
        for code, kind in ((store, "storage"), (transit, "transit")):
            made = await fresh.post("/api/locations", json={"code": code, "name": code, "kind": kind})
            assert made.status_code == 201, made.text
        r = await fresh.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text[:2000]
        assert r.json()["imported"] == 7
        for s in (sku, other):
            before, after = await summary(api, s), await summary(fresh, s)
            assert {k: v for k, v in after.items() if k not in NOT_IN_CSV} == {
                k: v for k, v in before.items() if k not in NOT_IN_CSV
            }, s
            assert [{k: x[k] for k in ("type", "quantity", "stock_after", "average_cost_after", "cogs", *LOCATED)}
                    for x in await timeline(fresh, s)] == [
                {k: x[k] for k in ("type", "quantity", "stock_after", "average_cost_after", "cogs", *LOCATED)}
                for x in await timeline(api, s)
            ]  # fmt: skip
        assert stock_by_location(await summary(fresh, sku)) == {"MAIN": 12, transit: 0, store: 10}
        assert (await summary(fresh, sku))["default_location"] == store
        again = (await fresh.get("/api/transactions.csv", params={"sku": sku})).text
        assert [r[k] for r in csv.DictReader(io.StringIO(again, newline="")) for k in LOCATED] == [
            r[k] for r in rows for k in LOCATED
        ]
        assert await anomalies(fresh) == []


async def test_rows_naming_no_location_happen_at_the_products_default_and_transfers_move_stock(api):
    store = await new_location(api)
    sku = await make_product(api, default_location=store)
    header = "external_id,sku,type,quantity,unit_price,at,location,to_location"
    r = await _import(api, [
        header,
        f"{sku}-1,{sku},BUY,10,2.00,2026-05-01T09:00:00Z,,",
        f"{sku}-2,{sku},TRANSFER,4,,2026-05-02T09:00:00Z,,MAIN",
        f"{sku}-3,{sku},SELL,3,5.00,2026-05-03T09:00:00Z,MAIN,",
    ])  # fmt: skip
    assert r.status_code == 201, r.text
    assert stock_by_location(await summary(api, sku)) == {store: 6, "MAIN": 1}
    rows = await timeline(api, sku)
    assert {(x["type"], x["location"], x["to_location"]) for x in rows} == {
        ("BUY", store, None), ("TRANSFER", store, "MAIN"), ("SELL", "MAIN", None),
    }  # fmt: skip


async def test_bad_location_cells_are_400s_naming_line_and_field_and_nothing_is_imported(api):
    store = await new_location(api)
    sku, new = await make_product(api), new_sku()
    header = "external_id,sku,product_name,type,quantity,unit_price,at,location,to_location,default_location"
    at = "2026-05-01T09:00:00Z"
    buy = f"{sku}-1,{sku},,BUY,10,2.00,{at},,,"
    r = await _import(api, [
        header,
        buy,
        f"{sku}-2,{sku},,TRANSFER,1,,{at},,,",  # 3: no destination
        f"{sku}-3,{sku},,TRANSFER,1,2.00,{at},,{store},",  # 4: a price
        f"{sku}-4,{sku},,SELL,1,2.00,{at},,{store},",  # 5: a destination on a SELL
        f"{sku}-5,{sku},,BUY,1,2.00,{at},bad code!,,",  # 6: not a code
        f"{sku}-6,{sku},,TRANSFER,1,,{at},{store},{store},",  # 7: to where it starts
    ])  # fmt: skip
    assert _errors(r) == {(3, "to_location"), (4, "unit_price"), (5, "to_location"), (6, "location"),
                          (7, "to_location")}  # fmt: skip
    # Rows well formed, checked against the database: every location named exists, every TRANSFER
    # leaves from somewhere else than its destination.
    r = await _import(api, [
        header,
        buy,
        f"{sku}-4,{sku},,SELL,1,2.00,{at},NOWHERE-{sku},,",  # 3: unknown location
        f"{sku}-5,{sku},,TRANSFER,1,,{at},,NOWHERE-{sku},",  # 4: unknown destination
        f"{sku}-6,{sku},,TRANSFER,1,,{at},,MAIN,",  # 5: from its default (MAIN) to itself
        f"{new}-1,{new},New,BUY,1,2.00,{at},,,ELSEWHERE-{sku}",  # 6: a new product's unknown default
    ])  # fmt: skip
    assert _errors(r) == {(3, "location"), (4, "to_location"), (5, "to_location"), (6, "default_location")}
    messages = {(e["line"], e["field"]): e["message"] for e in r.json()["extra"]["errors"]}
    assert messages[(3, "location")] == f"no location 'NOWHERE-{sku}'"
    assert "MAIN" in messages[(5, "to_location")]
    assert (await summary(api, sku))["transaction_count"] == 0
    assert (await api.get(f"/api/products/{new}")).status_code == 404


async def test_an_import_that_would_empty_a_location_below_zero_is_a_409_naming_line_and_location(api):
    store = await new_location(api)
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00", at="2026-06-01T09:00:00+00:00")
    r = await _import(api, [
        "external_id,sku,type,quantity,unit_price,at,location,to_location",
        f"{sku}-1,{sku},TRANSFER,2,,2026-06-02T09:00:00Z,,{store}",
        f"{sku}-2,{sku},SELL,3,5.00,2026-06-03T09:00:00Z,{store},",  # line 3: only 2 there
    ])  # fmt: skip
    assert r.status_code == 409, r.text
    assert (r.json()["extra"]["line"], r.json()["extra"]["location"]) == (3, store)
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_one_400_lists_every_bad_row_in_line_order_cell_errors_and_unknown_locations_alike(api):
    """The new-user trial's file: 9 rows, 6 with bad cells (lines 4-9) and 2 naming locations no one
    has (3, 10), which showed only once the others were fixed. Every bad row comes in the one 400."""
    store = await new_location(api)
    sku, new, badly_named = await make_product(api), new_sku(), new_sku()
    header = "external_id,sku,product_name,type,quantity,unit_price,at,location,to_location,low_stock_threshold"
    at = "2026-05-01T09:00:00Z"
    r = await _import(api, [
        header,
        f"{sku}-1,{sku},,BUY,10,2.00,{at},{store},,",  # 2: good
        f"{sku}-2,{sku},,SELL,1,5.00,{at},NOWHERE,,",  # 3: no such location
        f"{sku}-3,{sku},,SELL,-1,5.00,{at},,,",  # 4: quantity
        f"{sku}-4,{sku},,BUY,1,,{at},,,",  # 5: no price
        f"{sku}-5,{sku},,SELL,1,5.00,yesterday,,,",  # 6: at
        f"{sku}-6,{sku},,ADJUST,-1,,{at},,,",  # 7: no reason
        f"{sku}-7,{sku},,SELL,x,5.00,{at},NOWHERE,,",  # 8: quantity, and no such location
        f"{badly_named}-1,{badly_named},Tea,BUY,1,2.00,{at},,,-4",  # 9: its product's threshold
        f"{sku}-8,{sku},,SELL,1,5.00,{at},{store.lower()},,",  # 10: codes are told apart by case here
        f"{sku}-9,{sku},,TRANSFER,1,,{at},,MAIN,",  # 11: from its default (MAIN) to itself
        f"{new}-1,{new},,BUY,1,2.00,{at},,,",  # 12: a new product no row names
        f"{badly_named}-2,{badly_named},,BUY,1,2.00,{at},,,",  # its naming row (9) is the one in error
    ])  # fmt: skip
    assert r.status_code == 400, r.text
    listed = [(e["line"], e["field"]) for e in r.json()["extra"]["errors"]]
    assert [line for line, _ in listed] == sorted(line for line, _ in listed)  # in line order
    assert set(listed) == {
        (3, "location"), (4, "quantity"), (5, "unit_price"), (6, "at"), (7, "reason"), (8, "quantity"),
        (8, "location"), (9, "low_stock_threshold"), (10, "location"), (11, "to_location"), (12, "product_name"),
    }  # fmt: skip
    messages = {(e["line"], e["field"]): e["message"] for e in r.json()["extra"]["errors"]}
    assert messages[(3, "location")] == messages[(8, "location")] == "no location 'NOWHERE'"
    assert messages[(10, "location")] == f"no location {store.lower()!r}"
    assert (await summary(api, sku))["transaction_count"] == 0  # nothing imported
    for absent in (new, badly_named):
        assert (await api.get(f"/api/products/{absent}")).status_code == 404


async def test_the_export_filtered_by_location_holds_the_rows_there_and_an_unknown_code_is_a_400(api):
    store, other = await new_location(api), await new_location(api)
    sku, elsewhere = await make_product(api), await make_product(api)
    at = "2026-07-0{}T09:00:00+00:00".format
    await record(api, sku, "BUY", 10, "1.00", at=at(1))  # MAIN
    await record(api, sku, "TRANSFER", 4, at=at(2), location="MAIN", to_location=store)  # into the store
    await record(api, sku, "SELL", 1, "3.00", at=at(3), location=store)
    await record(api, sku, "TRANSFER", 1, at=at(4), location=store, to_location=other)  # out of it
    await record(api, sku, "SELL", 2, "3.00", at=at(5))  # MAIN
    await record(api, elsewhere, "BUY", 3, "1.00", at=at(1), location=other)

    def rows(r: httpx.Response) -> list[tuple[str, str, str, str]]:
        assert r.status_code == 200, r.text
        return [(x["sku"], x["type"], x["location"], x["to_location"])
                for x in csv.DictReader(io.StringIO(r.text, newline=""))]  # fmt: skip

    there = rows(await api.get("/api/transactions.csv", params={"sku": sku, "location": store}))
    assert there == [(sku, "TRANSFER", "MAIN", store), (sku, "SELL", store, ""), (sku, "TRANSFER", store, other)]
    assert rows(await api.get("/api/transactions.csv", params={"location": store})) == there  # no other product
    assert rows(await api.get("/api/transactions.csv", params={"sku": elsewhere, "location": store})) == []
    assert len(rows(await api.get("/api/transactions.csv", params={"sku": sku, "location": "MAIN"}))) == 3
    both = rows(await api.get("/api/transactions.csv", params={"location": other}))
    assert both == sorted([(sku, "TRANSFER", store, other), (elsewhere, "BUY", other, "")])
    assert len(rows(await api.get("/api/transactions.csv", params={"sku": sku, "location": ""}))) == 5  # as none

    for unknown in ("NOPE", store.lower()):
        refused = await api.get("/api/transactions.csv", params={"sku": sku, "location": unknown})
        assert refused.status_code == 400, refused.text
        assert [(e["field"], e["message"]) for e in refused.json()["extra"]["errors"]] == [
            ("location", f"no location {unknown!r}")
        ]
    declared = (await api.get("/schema/openapi.json")).json()["paths"]["/api/transactions.csv"]["get"]
    assert "location" in {p["name"] for p in declared["parameters"] if p["in"] == "query"}


async def test_an_import_leaving_a_location_below_what_is_reserved_there_names_the_last_line_moving_stock_there(
    api,
):
    """The check is on where the product ends up once all of its rows are in: no single row causes it,
    so the 409 names the last line of the file among the product's rows at that location."""
    store = await new_location(api)
    sku, other = await make_product(api), await make_product(api)
    await record(api, sku, "BUY", 10, "1.00", at="2026-08-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 7, at="2026-08-02T09:00:00+00:00", location="MAIN", to_location=store)
    held = await api.post("/api/reservations", json={"sku": sku, "quantity": 4, "order_ref": "o-1", "location": store})
    assert held.status_code == 201, held.text
    header = "external_id,sku,type,quantity,unit_price,at,location,to_location"
    r = await _import(api, [
        header,
        f"{sku}-1,{sku},SELL,2,5.00,2026-08-03T09:00:00Z,{store},",  # 2: 7 -> 5 at the store
        f"{sku}-2,{sku},SELL,2,5.00,2026-08-05T09:00:00Z,{store},",  # 3: the last in time there (3 left)
        f"{sku}-3,{sku},BUY,5,1.00,2026-08-04T09:00:00Z,,",  # 4: at MAIN
        f"{sku}-4,{sku},TRANSFER,1,,2026-08-01T12:00:00Z,,{store}",  # 5: backdated, into the store
        f"{sku}-5,{sku},TRANSFER,1,,2026-08-02T12:00:00Z,{store},MAIN",  # 6: out of it: the last line there
        f"{sku}-6,{sku},BUY,1,1.00,2026-08-06T09:00:00Z,,",  # 7: the product's last row, at MAIN
        f"{other}-1,{other},BUY,1,1.00,2026-08-06T09:00:00Z,{store},",  # 8: another product
    ])  # fmt: skip
    assert r.status_code == 409, r.text
    extra = r.json()["extra"]
    assert (extra["line"], extra["location"], extra["on_hand"], extra["reserved"]) == (6, store, 3, 4)
    assert f"line 6 is the last of them at {store}" in r.json()["detail"], r.json()["detail"]
    assert (await summary(api, sku))["transaction_count"] == 2  # nothing of it imported

    # Held against the total (a hold naming no location): the product's last line in the file.
    holds = [held.json()["id"]]
    total = await make_product(api)
    await record(api, total, "BUY", 5, "1.00", at="2026-08-01T09:00:00+00:00")
    held = await api.post("/api/reservations", json={"sku": total, "quantity": 4, "order_ref": "o-2"})
    assert held.status_code == 201, held.text
    r = await _import(api, [
        header,
        f"{total}-1,{total},SELL,1,5.00,2026-08-03T09:00:00Z,,",  # 2
        f"{total}-2,{total},SELL,1,5.00,2026-08-02T09:00:00Z,,",  # 3: earlier in time, later in the file
        f"{other}-2,{other},BUY,1,1.00,2026-08-06T09:00:00Z,,",  # 4: another product
    ])  # fmt: skip
    assert r.status_code == 409, r.text
    assert (r.json()["extra"]["line"], r.json()["extra"]["reserved"]) == (3, 4)
    assert "line 3 is its last in the file" in r.json()["detail"], r.json()["detail"]
    for x in [*holds, held.json()["id"]]:  # a hold left would differ in another test's export and import
        assert (await api.post(f"/api/reservations/{x}/cancel")).status_code == 200


async def test_an_import_that_makes_a_stored_row_oversell_names_the_last_line_before_it_there(api):
    """A backdated row of the file takes stock that a row stored later needed: the refused row is the
    stored one, so the 409 names the last line of the file among the rows before it at its location."""
    store = await new_location(api)
    sku = await make_product(api, default_location=store)
    await record(api, sku, "BUY", 5, "1.00", at="2026-09-01T09:00:00+00:00")
    sold = await record(api, sku, "SELL", 5, "3.00", at="2026-09-05T09:00:00+00:00")
    r = await _import(api, [
        "external_id,sku,type,quantity,unit_price,at,location,to_location",
        f"{sku}-1,{sku},TRANSFER,1,,2026-09-03T09:00:00Z,,MAIN",  # 2: takes 1 from the store
        f"{sku}-2,{sku},BUY,1,1.00,2026-09-04T09:00:00Z,MAIN,",  # 3: at MAIN
        f"{sku}-3,{sku},SELL,1,3.00,2026-09-10T09:00:00Z,,",  # 4: after the stored sale
    ])  # fmt: skip
    assert r.status_code == 409, r.text
    extra = r.json()["extra"]
    assert (extra["line"], extra["transaction_id"], extra["location"]) == (2, sold["id"], store)
    assert f"line 2 is the last of them at {store} in the file" in r.json()["detail"], r.json()["detail"]
    assert (await summary(api, sku))["transaction_count"] == 2
