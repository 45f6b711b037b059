"""CSV export and import: a shop moves its history in and out without losing or doubling anything."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import ROOT, bearer, make_user, start_server
from tests.integration.helpers import anomalies, every_product, make_product, record, summary, timeline

pytestmark = pytest.mark.integration
NOT_IN_CSV = {"reserved", "available", "status"}  # reservations are not transactions


@pytest.fixture
async def fresh_server(database_url):
    """An app on a brand-new, empty database in the same cluster."""
    name = f"fresh_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    url = database_url.replace("/postgres?", f"/{name}?")
    server = start_server(url, INVENTORY_SWEEP_SECONDS="3600")
    server.token = make_user(url, "fresh-admin", "admin")  # type: ignore[attr-defined]
    yield server
    server.stop()


async def test_export_then_import_into_a_fresh_database_gives_identical_products(api, fresh_server):
    sku = await make_product(api, category="Tea", brand="Leaf", low_stock_threshold=4, overstock_threshold=90)
    await record(api, sku, "BUY", 50, "1.2345", at="2026-03-01T10:00:00+00:00", note='quoted "note", with comma')
    await record(api, sku, "SELL", 7, "3.10", at="2026-03-02T10:00:00+00:00")
    await record(api, sku, "ADJUST", -2, at="2026-03-03T10:00:00+00:00", reason="damage")
    await record(api, sku, "COUNT", 40, at="2026-03-04T10:00:00+00:00")
    await make_product(api, name="Never moved ünïcode")

    exported = (await api.get("/api/transactions.csv")).text
    async with httpx.AsyncClient(base_url=fresh_server.url, timeout=300, headers=bearer(fresh_server.token)) as fresh:
        for place in (await api.get("/api/locations")).json()["items"][1:]:  # an import names only existing ones
            made = await fresh.post("/api/locations", json={k: place[k] for k in ("code", "name", "kind")})
            assert made.status_code == 201, made.text
        r = await fresh.post("/api/import", content=exported.encode(), headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text[:2000]
        before = {p["sku"]: p for p in await every_product(api)}
        after = {p["sku"]: p for p in await every_product(fresh)}
        assert r.json()["products_created"] == len(before)
        assert set(after) == set(before)
        for code, product in before.items():
            assert _in_csv(after[code]) == _in_csv(product), code
        assert after[sku] == before[sku]
        moved = (await fresh.get(f"/api/products/{sku}/transactions")).json()["items"]
        assert [(x["type"], x["stock_after"], x["note"]) for x in moved] == [
            (x["type"], x["stock_after"], x["note"]) for x in await timeline(api, sku)
        ]
        again = await fresh.post("/api/import", content=exported.encode())
        assert again.status_code == 201 and again.json()["imported"] == 0
        assert again.json()["skipped"] == r.json()["imported"]
        assert await anomalies(fresh) == []


def _in_csv(product: dict) -> dict:
    """What a file carries of a product: its stock by location, not what holds keep there (other tests
    in the shared database hold stock). A location left empty is not one: a product whose last row
    was deleted keeps MAIN at 0 in its `locations`, one that never had a row (as imported) has none."""
    kept = {k: v for k, v in product.items() if k not in NOT_IN_CSV}
    kept["locations"] = [(x["location"], x["on_hand"]) for x in product["locations"] if x["on_hand"]]
    return kept


async def test_a_file_with_three_bad_rows_imports_nothing_and_names_the_lines(api):
    sku = await make_product(api)
    rows = [
        "external_id,sku,product_name,type,quantity,unit_price,at,reason,note",
        f"a1,{sku},,BUY,10,2.00,2026-01-01T09:00:00+00:00,,",
        f"a2,{sku},,SELL,1.5,2.00,2026-01-02T09:00:00+00:00,,",  # line 3: fractional
        f"a3,{sku},,SELL,1,NaN,2026-01-03T09:00:00+00:00,,",  # line 4: NaN
        f"a4,{sku},,BUY,1,1.00,2026-01-04T09:00:00+00:00,,",
        f"a5,{sku},,ADJUST,-1,,2026-01-05T09:00:00+00:00,,",  # line 6: no reason
    ]
    r = await api.post("/api/import", content="\n".join(rows).encode())
    assert r.status_code == 400
    assert sorted({e["line"] for e in r.json()["extra"]["errors"]}) == [3, 4, 6]
    assert {(e["line"], e["field"]) for e in r.json()["extra"]["errors"]} == {
        (3, "quantity"),
        (4, "unit_price"),
        (6, "reason"),
    }
    assert (await summary(api, sku))["transaction_count"] == 0


async def test_an_import_that_would_oversell_is_refused_naming_its_line(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00", at="2026-02-01T09:00:00+00:00")
    body = "\n".join([
        "external_id,sku,type,quantity,unit_price,at",
        f"b1-{sku},{sku},SELL,3,2.00,2026-02-02T09:00:00+00:00",
        f"b2-{sku},{sku},SELL,3,2.00,2026-02-03T09:00:00+00:00",
    ])  # fmt: skip
    r = await api.post("/api/import", content=body.encode())
    assert r.status_code == 409 and r.json()["extra"]["line"] == 3
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_an_import_backdated_into_an_existing_product_refolds_it(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-02-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 10, "5.00", at="2026-02-10T09:00:00+00:00")
    body = f"external_id,sku,type,quantity,unit_price,at\nc1-{sku},{sku},BUY,10,4.00,2026-02-05T09:00:00+00:00\n"
    assert (await api.post("/api/import", content=body.encode())).status_code == 201
    rows = {x["id"]: x for x in await timeline(api, sku)}
    assert rows[sell["id"]]["cogs"] == "30.00" and rows[sell["id"]]["stock_after"] == 10


async def test_a_new_product_needs_a_name_and_the_header_needs_its_columns(api):
    r = await api.post("/api/import", content=b"external_id,sku,type,quantity,unit_price,at\n"
                                              b"x1,NEW-UNNAMED-1,BUY,1,1.00,2026-01-01T00:00:00Z\n")  # fmt: skip
    assert r.status_code == 400 and r.json()["extra"]["errors"][0] == {
        "line": 2,
        "field": "product_name",
        "message": "is required: there is no product 'NEW-UNNAMED-1' yet",
    }
    r = await api.post("/api/import", content=b"sku,type\nA,BUY\n")
    assert r.status_code == 400 and {e["field"] for e in r.json()["extra"]["errors"]} >= {"external_id", "at"}
    r = await api.post("/api/import", content=b"external_id,sku,sku,type,quantity,unit_price,at\n"
                                              b"x2,TWICE-1,TWICE-1,BUY,1,1.00,2026-01-01T00:00:00Z\n")  # fmt: skip
    assert r.status_code == 400 and r.json()["extra"]["errors"] == [
        {"line": 1, "field": "sku", "message": "column appears more than once in the header"}
    ]


async def test_export_filters_by_product_and_time_range(api):
    sku = await make_product(api)
    for day in (1, 2, 3):
        await record(api, sku, "BUY", day, "1.00", at=f"2026-04-0{day}T09:00:00+00:00")
    r = await api.get("/api/transactions.csv", params={"sku": sku, "start": "2026-04-02", "end": "2026-04-03"})
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(x["sku"], x["quantity"], x["stock_after"]) for x in rows] == [(sku, "2", "3")]


def test_the_cli_imports_a_file_with_progress(tmp_path, database_url):
    name = f"cli_{uuid.uuid4().hex[:8]}"
    subprocess.run([sys.executable, "-c", f"""
import asyncio, asyncpg
async def main():
    c = await asyncpg.connect({database_url!r}); await c.execute('CREATE DATABASE {name}'); await c.close()
asyncio.run(main())"""], check=True)  # fmt: skip
    path = tmp_path / "in.csv"
    path.write_text("external_id,sku,product_name,type,quantity,unit_price,at\n"
                    "d1,CLI-1,Imported thing,BUY,4,2.50,2026-01-01T09:00:00+00:00\n"
                    "d2,CLI-1,,SELL,1,4.00,2026-01-02T09:00:00+00:00\n")  # fmt: skip
    env = {**os.environ, "INVENTORY_DATABASE_URL": database_url.replace("/postgres?", f"/{name}?")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "import", str(path)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported 2, skipped 0 already imported, created 1 products"
    assert "1/1 products" in done.stderr
    again = subprocess.run([sys.executable, "-m", "app.cli", "import", str(path)], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert again.stdout.strip() == "imported 0, skipped 2 already imported, created 0 products"


async def test_formula_leading_text_is_quoted_on_export_and_comes_back_exactly_on_import(api, fresh_server):
    """OWASP "CSV injection": a spreadsheet must show these cells, never run them; numbers stay numbers."""
    link = '=HYPERLINK("http://evil.example","click")'
    sku = await make_product(api, name='=cmd|"/C calc"!A0', category="+Tea", brand="@Leaf")
    await record(api, sku, "BUY", 10, "1.00", at="2026-05-01T09:00:00+00:00", note=link)
    await record(api, sku, "ADJUST", -3, at="2026-05-02T09:00:00+00:00", reason="loss", note="-2+3")
    await record(api, sku, "SELL", 1, "2.00", at="2026-05-03T09:00:00+00:00", note="'=typed with a quote")
    await record(api, sku, "SELL", 1, "2.00", at="2026-05-04T09:00:00+00:00", note="-5")

    exported = (await api.get("/api/transactions.csv", params={"sku": sku})).text
    rows = list(csv.DictReader(io.StringIO(exported)))
    product_cells = (rows[0]["product_name"], rows[0]["category"], rows[0]["brand"])
    assert product_cells == ('\'=cmd|"/C calc"!A0', "'+Tea", "'@Leaf")
    assert [r["note"] for r in rows] == ["'" + link, "'-2+3", "''=typed with a quote", "-5"]
    assert [r["quantity"] for r in rows] == ["10", "-3", "1", "1"]  # a negative number is not quoted
    assert (rows[1]["stock_after"], rows[1]["write_off"]) == ("7", "3.00")

    async with httpx.AsyncClient(base_url=fresh_server.url, timeout=300, headers=bearer(fresh_server.token)) as fresh:
        r = await fresh.post("/api/import", content=exported.encode(), headers={"content-type": "text/csv"})
        assert r.status_code == 201, r.text[:2000]
        moved = (await fresh.get(f"/api/products/{sku}")).json()
        assert (moved["name"], moved["category"], moved["brand"]) == ('=cmd|"/C calc"!A0', "+Tea", "@Leaf")
        notes = [x["note"] for x in (await fresh.get(f"/api/products/{sku}/transactions")).json()["items"]]
        assert notes == [link, "-2+3", "'=typed with a quote", "-5"]
        again = (await fresh.get("/api/transactions.csv", params={"sku": sku})).text
        assert [r["note"] for r in csv.DictReader(io.StringIO(again))] == [r["note"] for r in rows]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "0001-01-01T00:00:00+01:00"}, "start"),  # not even writable in UTC
        ({"end": "9999-12-31T23:59:59-14:00"}, "end"),
        ({"start": "1899-12-31"}, "start"),
        ({"end": "2026-01-01T00:00:00.1234567Z"}, "end"),
        ({"start": "2026-01-01", "end": "2025-01-01"}, "end"),  # the range backwards: not an empty file
    ],
)
async def test_an_export_filter_out_of_range_is_a_400_before_anything_is_sent(api, params, field):
    r = await api.get("/api/transactions.csv", params=params)
    assert r.status_code == 400, r.text[:500]
    assert [e["field"] for e in r.json()["extra"]["errors"]] == [field]


@pytest.mark.parametrize("column", ["external_id", "product_name", "category", "note"])
async def test_an_import_cell_that_cannot_be_stored_names_its_line_and_column(api, column):
    cells = {"external_id": "e-ok", "sku": "NUL-CELL-1", "product_name": "Thing", "category": "Cat", "type": "BUY",
             "quantity": "1", "unit_price": "1.00", "at": "2026-01-01T09:00:00+00:00", "note": "fine"}  # fmt: skip
    cells[column] = "bad\x00cell"
    body = ",".join(cells) + "\n" + ",".join(cells.values()) + "\n"
    r = await api.post("/api/import", content=body.encode())
    assert r.status_code == 400, r.text[:500]
    assert [(e["line"], e["field"]) for e in r.json()["extra"]["errors"]] == [(2, column)]
    assert (await api.get("/api/products/NUL-CELL-1")).status_code == 404


async def test_an_import_the_csv_reader_cannot_read_is_a_400_naming_the_line(api):
    huge = "n" * 200_000  # past the csv module's 128 kB field limit
    body = f'external_id,sku,type,quantity,unit_price,at,note\nx1,A-1,BUY,1,1,2026-01-01T00:00:00Z,"{huge}"\n'
    r = await api.post("/api/import", content=body.encode())
    assert r.status_code == 400, r.text[:500]
    assert [(e["line"], e["field"]) for e in r.json()["extra"]["errors"]] == [(2, "file")]


async def test_report_csv_quotes_formula_leading_names_but_not_negative_figures(api):
    tag = f"=CAT{uuid.uuid4().hex[:6]}"
    sku = await make_product(api, name="@SUM(1+1)", category=tag, brand="-Brand")
    await record(api, sku, "BUY", 1, "5.00")
    await record(api, sku, "SELL", 1, "2.00")  # out of stock, at a loss: realized_pl is -3.00

    async def report(name: str, key: str) -> dict[str, dict[str, str]]:
        r = await api.get(f"/api/reports/{name}", params={"format": "csv"})
        assert r.status_code == 200, r.text
        return {row[key]: row for row in csv.DictReader(io.StringIO(r.text))}

    product = (await report("out-of-stock", "sku"))[sku]
    assert (product["name"], product["category"], product["brand"]) == ("'@SUM(1+1)", "'" + tag, "'-Brand")
    assert product["realized_pl"] == "-3.00"
    assert (await report("by-category", "category"))["'" + tag]["realized_pl"] == "-3.00"


async def test_a_file_unreadable_from_one_line_on_lists_the_bad_rows_before_it_too(api):
    sku = await make_product(api)
    body = "\n".join([
        "external_id,sku,type,quantity,unit_price,at,note",
        f"{sku}-1,{sku},SELL,-1,5.00,2026-05-01T09:00:00Z,",  # 2: quantity
        f"{sku}-2,{sku},BUY,1,1.00,2026-05-01T09:00:00Z,{'x' * 200_000}",  # 3: past the csv module's cell limit
    ])  # fmt: skip
    r = await api.post("/api/import", content=body.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 400, r.text
    assert [(e["line"], e["field"]) for e in r.json()["extra"]["errors"]] == [(2, "quantity"), (3, "file")]
    assert (await summary(api, sku))["transaction_count"] == 0
