"""Importing a catalogue: more products than PostgreSQL's lock table holds in one transaction.

The default lock table has room for 64 × (max_connections + prepared transactions) locks, 6,400 with
default settings (about 14,500 advisory locks fit in one transaction on an idle embedded server: the
shared table has slack), and an import takes one advisory lock per product. The import commits in
parts of at most PART_PRODUCTS products (docs/decisions.md, "Imports in parts"): a bad row still
imports nothing, a ledger rule broken in a later part leaves the parts that committed in (the answer
says so), and the same file imported again finishes the job exactly.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal

import asyncpg
import httpx
import pytest

from app.services.catalogue_csv import PART_PRODUCTS
from tests.conftest import ROOT, bearer, server_on_a_cluster_of_its_own
from tests.integration.helpers import anomalies, make_product, record, summary, timeline

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalogue_server() -> Iterator[tuple[str, str, str]]:
    """A database of its own: tens of thousands of imported products would change what every other
    test's reports and pages list."""
    with server_on_a_cluster_of_its_own("srk-", "catalogue-admin") as running:
        yield running


@pytest.fixture
async def api(catalogue_server: tuple[str, str, str]) -> AsyncIterator[httpx.AsyncClient]:
    _, base, token = catalogue_server
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=bearer(token)) as client:
        yield client


@pytest.fixture
async def db(catalogue_server: tuple[str, str, str]) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(catalogue_server[0])
    yield conn
    await conn.close()
HEADER = "external_id,sku,product_name,type,quantity,unit_price,at\n"


def catalogue(prefix: str, products: int, *, sell: dict[int, int] | None = None) -> str:
    """Per product: a BUY of 10 + i % 7 at (1 + i % 5).25 naming it, then a SELL of 1 + i % 4 at 9.99.
    The rows of all products are interleaved by time, as a shop's export of a day would be."""
    sell = sell or {}
    out = [HEADER]
    for i in range(products):
        out.append(f"{prefix}-b{i},{prefix}-{i},Product {i},BUY,{10 + i % 7},{1 + i % 5}.25,2025-03-01T08:00:00Z\n")
    for i in range(products):
        out.append(f"{prefix}-s{i},{prefix}-{i},,SELL,{sell.get(i, 1 + i % 4)},9.99,2025-03-02T08:00:00Z\n")
    return "".join(out)


def line_of_sell(products: int, i: int) -> int:
    return 2 + products + i  # the header is line 1, then every BUY, then every SELL


async def figures_in_sql(db: asyncpg.Connection, prefix: str) -> dict[str, asyncpg.Record]:
    """Each product's stored figures beside the same figures summed from its ledger rows in SQL."""
    rows = await db.fetch(
        """SELECT p.sku, p.on_hand, p.average_cost, p.revenue, p.cogs, p.realized_pl, p.tx_count,
                  sum(CASE t.type WHEN 'BUY' THEN t.quantity ELSE -t.quantity END) AS stock,
                  round(sum(t.quantity * t.unit_price) FILTER (WHERE t.type = 'BUY')
                        / sum(t.quantity) FILTER (WHERE t.type = 'BUY'), 6) AS bought_at,
                  coalesce(sum(round(t.quantity * t.unit_price, 2)) FILTER (WHERE t.type = 'SELL'), 0) AS sold_for,
                  count(t.id) AS rows
           FROM product p JOIN stock_transaction t ON t.product = p.id
           WHERE p.sku LIKE $1 || '-%' GROUP BY p.id""",
        prefix,
    )
    return {r["sku"]: r for r in rows}


def expected(i: int, sold: int | None = None) -> tuple[int, Decimal, Decimal]:
    """(on hand, average cost, realized P/L) of product i of `catalogue`."""
    bought, price = 10 + i % 7, Decimal(f"{1 + i % 5}.25")
    sold = 1 + i % 4 if sold is None else sold
    return bought - sold, price, (Decimal("9.99") - price) * sold


async def test_a_file_with_more_products_than_the_lock_table_holds_imports_completely(api, db):
    prefix = f"CAT{uuid.uuid4().hex[:6]}"
    products = 16_000  # past the advisory locks one transaction can take (about 14,500 on the test server)
    # An existing product gets a backdated row (a refold of its stored rows) and an appended one.
    old = await make_product(api)
    await record(api, old, "BUY", 10, "2.00", at="2025-03-01T09:00:00+00:00")
    await record(api, old, "SELL", 4, "5.00", at="2025-03-03T09:00:00+00:00")
    body = catalogue(prefix, products) + (
        f"{prefix}-old1,{old},,BUY,10,4.00,2025-03-02T09:00:00Z\n{prefix}-old2,{old},,SELL,16,5.00,2025-03-04T09:00:00Z\n"
    )
    r = await api.post("/api/import", content=body.encode(), timeout=300)
    assert r.status_code == 201, r.text[:2000]
    assert r.json() == {"imported": 2 * products + 2, "skipped": 0, "products_created": products}

    stored = await figures_in_sql(db, prefix)
    assert len(stored) == products
    for i in range(products):
        row = stored[f"{prefix}-{i}"]
        on_hand, cost, pl = expected(i)
        assert (row["on_hand"], row["stock"]) == (on_hand, on_hand), row
        assert row["average_cost"] == row["bought_at"] == cost, row
        assert row["revenue"] == row["sold_for"] and row["realized_pl"] == pl, row
        assert row["tx_count"] == row["rows"] == 2
    value = await db.fetchval("SELECT sum(round(on_hand * average_cost, 2)) FROM product WHERE sku LIKE $1 || '-%'",
                              prefix)  # fmt: skip
    assert value == sum(Decimal(expected(i)[0]) * expected(i)[1] for i in range(products))
    sample = await summary(api, f"{prefix}-{products - 1}")
    on_hand, cost, _ = expected(products - 1)
    assert (sample["on_hand"], Decimal(sample["inventory_value"])) == (on_hand, on_hand * cost)

    moved = await timeline(api, old)  # BUY 10 @2, backdated BUY 10 @4 → cost 3, SELL 4, SELL 16
    assert [(x["type"], x["stock_after"], x["average_cost_after"]) for x in moved] == [
        ("BUY", 10, "2.000000"), ("BUY", 20, "3.000000"), ("SELL", 16, "3.000000"), ("SELL", 0, "3.000000")
    ]  # fmt: skip
    assert moved[2]["cogs"] == "12.00"  # refolded: was 8.00 before the backdated BUY
    assert await anomalies(api) == []

    again = await api.post("/api/import", content=body.encode(), timeout=300)
    assert again.status_code == 201 and again.json() == {"imported": 0, "skipped": 2 * products + 2,
                                                         "products_created": 0}  # fmt: skip


async def test_a_ledger_rule_broken_in_a_later_part_leaves_the_other_parts_and_a_rerun_finishes(api, db):
    prefix = f"NEG{uuid.uuid4().hex[:6]}"
    size = PART_PRODUCTS
    products, breaking = 4 * size, size + size // 2  # parts of `size` products: the second one breaks
    bad = catalogue(prefix, products, sell={breaking: 999})
    r = await api.post("/api/import", content=bad.encode(), timeout=300)
    assert r.status_code == 409, r.text[:2000]
    answer = r.json()
    line = line_of_sell(products, breaking)
    assert answer["extra"]["line"] == line and answer["extra"]["sku"] == f"{prefix}-{breaking}"
    assert f"file line {line}" in answer["detail"]
    done = answer["extra"]["imported"]  # what the other parts committed, as the answer says
    assert done["imported"] == 2 * done["products_created"] and done["skipped"] == 0
    assert f"{done['imported']:,} rows" in answer["detail"] and "again" in answer["detail"]
    stored = await figures_in_sql(db, prefix)
    assert await db.fetchval("SELECT count(*) FROM product WHERE sku LIKE $1 || '-%'", prefix) == len(stored)
    assert len(stored) == done["products_created"]
    imported = {int(sku.rsplit("-", 1)[1]) for sku in stored}
    assert set(range(size)) <= imported  # the part before: in
    assert not imported & set(range(size, 2 * size))  # the breaking part: nothing of it
    assert imported - set(range(2 * size)) in (set(), set(range(2 * size, 3 * size)))  # the one after: whole or not
    assert not imported & set(range(3 * size, products))  # the last part never started

    fixed = catalogue(prefix, products, sell={breaking: 1})
    r = await api.post("/api/import", content=fixed.encode(), timeout=300)
    assert r.status_code == 201, r.text[:2000]
    assert r.json() == {"imported": 2 * products - done["imported"], "skipped": done["imported"],
                        "products_created": products - done["products_created"]}  # fmt: skip
    stored = await figures_in_sql(db, prefix)
    assert len(stored) == products
    for i in range(products):
        on_hand, cost, pl = expected(i, 1 if i == breaking else None)
        row = stored[f"{prefix}-{i}"]
        assert (row["on_hand"], row["average_cost"], row["realized_pl"], row["rows"]) == (on_hand, cost, pl, 2), row
    assert await anomalies(api) == []


async def test_a_bad_row_anywhere_in_a_large_file_imports_nothing(api, db):
    prefix = f"BAD{uuid.uuid4().hex[:6]}"
    products = 3_000
    body = catalogue(prefix, products)
    last = line_of_sell(products, products - 1)
    lines = body.splitlines(keepends=True)
    lines[last - 1] = lines[last - 1].replace(",SELL,4,", ",SELL,4.5,")
    r = await api.post("/api/import", content="".join(lines).encode(), timeout=300)
    assert r.status_code == 400, r.text[:2000]
    assert [(e["line"], e["field"]) for e in r.json()["extra"]["errors"]] == [(last, "quantity")]
    assert await db.fetchval("SELECT count(*) FROM product WHERE sku LIKE $1 || '-%'", prefix) == 0


async def test_a_keyed_import_in_parts_is_replayed_and_a_concurrent_repeat_adds_nothing(api, db):
    prefix = f"KEY{uuid.uuid4().hex[:6]}"
    products = 3_000
    body = catalogue(prefix, products).encode()
    key = {"Idempotency-Key": f"import-{prefix}"}
    first, second = await asyncio.gather(
        api.post("/api/import", content=body, headers=key, timeout=300),
        api.post("/api/import", content=body, headers=key, timeout=300),
    )
    assert first.status_code == second.status_code == 201, (first.text[:500], second.text[:500])
    whole = {"imported": 2 * products, "skipped": 0, "products_created": products}
    assert first.json() == second.json() == whole  # the repeat answers what the first stored
    assert sorted(r.headers.get("idempotent-replayed", "") for r in (first, second)) == ["", "true"]
    later = await api.post("/api/import", content=body, headers=key, timeout=300)
    assert later.status_code == 201 and later.json() == whole and later.headers["idempotent-replayed"] == "true"
    other = await api.post("/api/import", content=body + b"\n", headers=key)
    assert other.status_code == 422  # the same key with another file
    assert await db.fetchval(
        "SELECT count(*) FROM stock_transaction t JOIN product p ON p.id = t.product WHERE p.sku LIKE $1 || '-%'",
        prefix,
    ) == 2 * products


def test_the_cli_imports_past_the_lock_table_with_progress_and_reports_a_broken_part(tmp_path, database_url):
    name = f"cli_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(database_url)
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()

    asyncio.run(create())
    env = {**os.environ, "INVENTORY_DATABASE_URL": database_url.replace("/postgres?", f"/{name}?")}
    products = 3_000
    path = tmp_path / "catalogue.csv"
    path.write_text(catalogue("CLI", products, sell={2_900: 99}))

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app.cli", "import", str(path)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    broken = run()
    assert broken.returncode == 1, broken.stderr[-2000:]
    assert f"file line {line_of_sell(products, 2_900)}" in broken.stderr and "again" in broken.stderr
    path.write_text(catalogue("CLI", products))
    done = run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{2 * products:,}/{2 * products:,} rows, {products:,}/{products:,} products" in done.stderr
    said = re.fullmatch(r"imported (\d+), skipped (\d+) already imported, created (\d+) products", done.stdout.strip())
    assert said, done.stdout
    imported, skipped, created = map(int, said.groups())
    assert imported + skipped == 2 * products and 0 < skipped < 2 * products and 0 < created < products
    counts = asyncio.run(_counts(env["INVENTORY_DATABASE_URL"]))
    assert counts == (products, 2 * products)


async def _counts(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM product"), await conn.fetchval(
            "SELECT count(*) FROM stock_transaction"
        )
    finally:
        await conn.close()


async def test_notes_and_external_ids_with_tabs_newlines_and_backslashes_are_stored_exactly(api, db):
    """The rows go in by COPY in its text format, where these characters are escapes."""
    sku = f"ESC{uuid.uuid4().hex[:6]}"
    notes = ["tab\there", "two\nlines", "back\\slash \\N \\t", "\\", "plain"]
    body = "external_id,sku,product_name,type,quantity,unit_price,at,note\n" + "".join(
        f'"{sku}-\\{i}\tx",{sku},Thing,BUY,1,1.00,2025-03-0{i + 1}T08:00:00Z,"{note}"\n' for i, note in enumerate(notes)
    )
    r = await api.post("/api/import", content=body.encode())
    assert r.status_code == 201, r.text[:2000]
    stored = await db.fetch(
        """SELECT t.note, t.external_id FROM stock_transaction t JOIN product p ON p.id = t.product
           WHERE p.sku = $1 ORDER BY t.at""",
        sku,
    )
    assert [(x["note"], x["external_id"]) for x in stored] == [(n, f"{sku}-\\{i}\tx") for i, n in enumerate(notes)]
    assert [x["note"] for x in await timeline(api, sku)] == notes


async def test_rows_in_the_closed_period_anywhere_in_the_file_import_nothing_and_are_named(api, db):
    prefix = f"CLO{uuid.uuid4().hex[:6]}"
    products = 2_500
    body = catalogue(prefix, products).replace(
        f"{prefix}-s{products - 1},{prefix}-{products - 1},,SELL,4,9.99,2025-03-02T08:00:00Z",
        f"{prefix}-s{products - 1},{prefix}-{products - 1},,SELL,4,9.99,2025-03-01T23:59:59Z",
    )  # the last product's sale moves into the closed period; so are every product's BUYs (March 1st)
    closing = await api.post("/admin/settings", data={"books_closed_through": "2025-03-01"})  # api: an admin
    assert closing.status_code == 303
    try:
        r = await api.post("/api/import", content=body.encode(), timeout=300)
    finally:
        await api.post("/admin/settings", data={"books_closed_through": ""})
    assert r.status_code == 409, r.text[:2000]
    lines = r.json()["extra"]["lines"]
    assert lines == list(range(2, 102)) and f"{products + 1} row(s)" in r.json()["detail"]  # the first 100 named
    assert await db.fetchval("SELECT count(*) FROM product WHERE sku LIKE $1 || '-%'", prefix) == 0


async def test_an_import_cut_off_by_a_lost_connection_is_a_503_and_the_same_file_again_finishes(api, db):
    prefix = f"CUT{uuid.uuid4().hex[:6]}"
    products = 6 * PART_PRODUCTS
    body = catalogue(prefix, products).encode()
    importing = asyncio.ensure_future(api.post("/api/import", content=body, timeout=300))
    killed = 0
    while not importing.done() and not killed:  # the connection of a part writing its rows
        killed = await db.fetchval("""SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                                      WHERE datname = current_database() AND query LIKE 'COPY%'""")  # fmt: skip
        await asyncio.sleep(0.005)
    r = await importing
    assert killed, "the import ended before a part could be cut off"
    assert r.status_code == 503 and r.headers["retry-after"], r.text[:2000]
    assert "Import the same file again" in r.json()["detail"]
    before = await db.fetchval("SELECT count(*) FROM product WHERE sku LIKE $1 || '-%'", prefix)
    assert before < products
    again = await api.post("/api/import", content=body, timeout=300)
    assert again.status_code == 201, again.text[:2000]
    assert again.json()["products_created"] == products - before
    assert again.json()["imported"] + again.json()["skipped"] == 2 * products
    stored = await figures_in_sql(db, prefix)
    assert len(stored) == products and all(row["rows"] == 2 for row in stored.values())
    assert await anomalies(api) == []
