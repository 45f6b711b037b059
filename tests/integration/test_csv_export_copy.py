"""The CSV export is written by PostgreSQL (COPY, issue 13: ≥ 100,000 rows a second): byte for byte
what the export wrote before through Python's csv.writer, tricky cells included."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import asyncpg
import pytest

from app.intake.csv_format import CSV_COLUMNS, spreadsheet_safe
from app.persistence.catalogue_csv import export_rows
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration

NOTES = [
    "=1+1",
    "'=x",
    "-3",
    "+4.50",
    "@home",
    "a,b",
    'quote"d',
    "",
    "plain",
    "''=double",
    "ümlaut €",
    "\\.",
    '"',
    "-",
    "+1e5",
]  # fmt: skip (notes hold no control characters)


def _cell(value: object) -> object:
    """The export's cells as the Python export wrote them (before COPY)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return spreadsheet_safe(value)
    return value.isoformat() if isinstance(value, datetime) else value


async def reference(url: str, sku: str | None) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            async for values in export_rows(conn, sku, None, None):
                writer.writerow([_cell(v) for v in values])
    finally:
        await conn.close()
    return buffer.getvalue().encode()


async def test_the_copy_export_is_byte_for_byte_the_python_export(api, database_url):
    tricky = await make_product(api, name="=HYPERLINK(\"x\")", category="-cat", brand="@brand, inc",
                                low_stock_threshold=3, sell_price="9.90")  # fmt: skip
    await record(api, tricky, "BUY", 100, "1.2345", at="2026-01-01T09:00:00.123456+00:00")
    for i, note in enumerate(NOTES):
        await record(api, tricky, "SELL", 1, "2.50", at=f"2026-01-02T09:{i:02d}:00+00:00", note=note)
    await record(api, tricky, "ADJUST", -2, reason="damage", note="=bad", at="2026-01-03T00:00:00+01:00")
    await record(api, tricky, "COUNT", 80, at="2026-01-04T09:00:00Z")
    empty = await make_product(api)  # no transactions: one row of product cells
    for sku in (tricky, empty):
        r = await api.get("/api/transactions.csv", params={"sku": sku})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.content == await reference(database_url, sku)
    whole = await api.get("/api/transactions.csv")
    assert whole.content == await reference(database_url, None)
    rows = list(csv.DictReader(io.StringIO(whole.text, newline="")))
    notes = [row["note"] for row in rows if row["sku"] == tricky and row["type"] == "SELL"]
    assert notes == [spreadsheet_safe(n) for n in NOTES]
