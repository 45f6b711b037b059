"""The catalogue CSV's reads and writes: the export's rows (one cursor over products and their
transactions), and what an import looks up and creates (products by SKU, stored external ids,
barcodes in use, new products in one statement)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from app.domain.commands import ProductInput
from app.intake.csv_format import CSV_COLUMNS
from app.persistence.ledger_rows import LOCATION_STOCK_SQL
from app.persistence.products import BARCODE_INDEX

# Which rows: one product's (`sku`), those with start <= at < end, those at a location (a TRANSFER is at
# both ends: `location` or `to_location`). The location test is a comparison on each row the scan reads
# anyway (in product then timeline order), so it costs next to nothing; a product without such rows is
# left out, as one without rows in the time window.
EXPORT_WHERE = """
WHERE ($1::text IS NULL OR p.sku = $1)
  AND ($2::timestamptz IS NULL OR t.at >= $2) AND ($3::timestamptz IS NULL OR t.at < $3)
  AND ($4::text IS NULL OR t.location = $4 OR t.to_location = $4)
ORDER BY p.sku, t.at, t.seq
"""
# The export's columns are the file's (CSV_COLUMNS), by the same names. Location codes need no
# spreadsheet quoting (they start with a letter or digit).
EXPORT_SQL = f"""
SELECT coalesce(t.external_id, 'stockroom-' || t.seq) AS external_id, p.sku, p.name AS product_name, p.category,
       p.brand, p.low_stock_threshold, p.overstock_threshold, p.count_interval_days, p.barcode, p.sell_price,
       p.default_location, t.type, t.quantity,
       t.unit_price, t.at, t.reason, t.note, t.location, t.to_location, t.id, t.seq, t.stock_after,
       t.average_cost_after, t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain,
       {LOCATION_STOCK_SQL} AS location_stock_after, t.to_location_stock_after
FROM product p LEFT JOIN stock_transaction t ON t.product = p.id
{EXPORT_WHERE}"""
# The same rows as CSV written by PostgreSQL itself (COPY … TO STDOUT, issue 13: 45,000 rows a second
# through Python, several times that from COPY), cell for cell what export_rows' values become in
# the service's csv.writer: text that a spreadsheet would run as a formula gets a leading quote
# (intake.csv_format.spreadsheet_safe, the same two patterns), an empty text is written as nothing (as
# csv.writer writes it), times as Python's isoformat() of a UTC datetime. Only the line ends differ
# (COPY writes \n): the service makes them \r\n.
_FORMULA = r"'^''*[=+@\t\r-]'"
_PLAIN_NUMBER = r"'^[+-]?[0-9]+(\.[0-9]+)?$'"


def _safe(column: str) -> str:
    return (f"CASE WHEN {column} ~ {_FORMULA} AND {column} !~ {_PLAIN_NUMBER} THEN '''' || {column} "
            f"ELSE nullif({column}, '') END")  # fmt: skip


_UTC = "t.at AT TIME ZONE 'UTC'"
_ISO_UTC = f"""(to_char({_UTC}, 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN to_char({_UTC}, 'US') = '000000' THEN '' ELSE '.' || to_char({_UTC}, 'US') END || '+00:00')"""
EXPORT_CSV_SQL = f"""
SELECT {_safe("coalesce(t.external_id, 'stockroom-' || t.seq)")} AS external_id, {_safe("p.sku")} AS sku,
       {_safe("p.name")} AS product_name, {_safe("p.category")} AS category, {_safe("p.brand")} AS brand,
       p.low_stock_threshold, p.overstock_threshold, p.count_interval_days, p.barcode, p.sell_price,
       p.default_location, {_safe("t.type")} AS type, t.quantity, t.unit_price, {_ISO_UTC} AS at,
       {_safe("t.reason")} AS reason, {_safe("t.note")} AS note, t.location, t.to_location, t.id, t.seq,
       t.stock_after, t.average_cost_after, t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain,
       {LOCATION_STOCK_SQL} AS location_stock_after, t.to_location_stock_after
FROM product p LEFT JOIN stock_transaction t ON t.product = p.id
{EXPORT_WHERE}"""


async def export_csv_copy(
    conn: asyncpg.Connection,
    sku: str | None,
    start: datetime | None,
    end: datetime | None,
    sink: Callable[[bytes], Awaitable[None]],
    location: str | None = None,
) -> None:
    """The export's file (header first) as PostgreSQL writes it, piece by piece to `sink`. A COPY
    that ends early (cancelled: its client left) closes the connection: asyncpg gave such a one back
    to the pool still in the middle of the COPY, and the next requests on it failed."""
    try:
        await conn.copy_from_query(EXPORT_CSV_SQL, sku, start, end, location, output=sink, format="csv", header=True)
    except asyncio.CancelledError:
        conn.terminate()  # the pool opens a new one in its place
        raise


# New products' columns (ProductInput's fields, by the same names) and their array types for unnest.
NEW_PRODUCT_COLUMNS = {
    "sku": "text", "name": "text", "category": "text", "brand": "text", "low_stock_threshold": "int",
    "overstock_threshold": "int", "count_interval_days": "int", "barcode": "text", "sell_price": "numeric",
    "default_location": "text",
}  # fmt: skip


class BarcodeTaken(Exception):
    """A new product's barcode was given to another product meanwhile (the unique GTIN index)."""


async def export_rows(
    conn: asyncpg.Connection, sku: str | None, start: datetime | None, end: datetime | None,
    location: str | None = None,
) -> AsyncIterator[list[Any]]:  # fmt: skip
    """Every product (or one) with its transactions (those with `start <= at < end`, at `location`), in
    per-product timeline order, each row's values in CSV_COLUMNS order; read through a cursor (inside a
    transaction)."""
    checked = False
    async for row in conn.cursor(EXPORT_SQL, sku, start, end, location, prefetch=2000):
        if not checked:  # the columns by name once, then each row's values as they come (a million rows)
            if tuple(row.keys()) != CSV_COLUMNS:
                raise RuntimeError(f"EXPORT_SQL's columns {tuple(row.keys())} are not CSV_COLUMNS")
            checked = True
        yield list(row.values())


async def product_ids(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, int]:
    """SKU -> id of the products that exist among `skus`."""
    return {r["sku"]: r["id"] for r in await conn.fetch("SELECT sku, id FROM product WHERE sku = ANY($1::text[])",
                                                         list(skus))}  # fmt: skip


async def default_locations(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, str]:
    """SKU -> default location of the products among `skus` whose default is not MAIN."""
    rows = await conn.fetch("SELECT sku, default_location FROM product WHERE sku = ANY($1::text[])"
                            " AND default_location <> 'MAIN'", list(skus))  # fmt: skip
    return {r["sku"]: r["default_location"] for r in rows}


async def stored_external_ids(conn: asyncpg.Connection, external_ids: Sequence[str]) -> set[str]:
    """Those of `external_ids` that a stored transaction has (imported before)."""
    rows = await conn.fetch("SELECT external_id FROM stock_transaction WHERE external_id = ANY($1::text[])",
                            list(external_ids))  # fmt: skip
    return {r["external_id"] for r in rows}


async def gtin_owners(conn: asyncpg.Connection, gtins: Sequence[str]) -> dict[str, str]:
    """GTIN (a barcode padded to 14 digits) -> SKU of the product that has it, for those in use."""
    rows = await conn.fetch(
        """SELECT sku, lpad(barcode, 14, '0') AS gtin FROM product
           WHERE barcode IS NOT NULL AND lpad(barcode, 14, '0') = ANY($1::text[])""",
        list(gtins),
    )
    return {r["gtin"]: r["sku"] for r in rows}


async def add_products(conn: asyncpg.Connection, products: Sequence[ProductInput]) -> dict[str, int]:
    """Insert the products in one statement, skipping SKUs that exist (ON CONFLICT waits for a
    request creating the same SKU to commit); SKU -> id of those inserted. BarcodeTaken when a
    barcode is another product's."""
    columns = list(NEW_PRODUCT_COLUMNS)
    arrays = ", ".join(f"${n}::{kind}[]" for n, kind in enumerate(NEW_PRODUCT_COLUMNS.values(), start=1))
    try:
        rows = await conn.fetch(
            f"""INSERT INTO product ({", ".join(columns)}) SELECT * FROM unnest({arrays})
                ON CONFLICT (sku) DO NOTHING RETURNING sku, id""",
            *([getattr(p, c) for p in products] for c in columns),
        )  # fmt: skip
    except asyncpg.UniqueViolationError as clash:
        if clash.constraint_name != BARCODE_INDEX:
            raise
        raise BarcodeTaken() from None
    return {r["sku"]: r["id"] for r in rows}
