"""CSV export (streamed) and import (all rows checked first, then all imported in one transaction)."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.domain.access import ClosedPeriod
from app.domain.errors import Conflict, InvalidFile, InvalidInput, LineError
from app.domain.imports import CSV_COLUMNS, REQUIRED_COLUMNS, ImportRow, parse_row, spreadsheet_safe
from app.domain.inputs import ProductInput
from app.domain.ledger import Entry
from app.services import idempotency
from app.services import ledger_repo as repo
from app.services.database import read_only, snapshot, unit_of_work
from app.services.events import announce
from app.services.idempotency import Key
from app.services.ledger import LedgerService, release_lapsed_holds
from app.services.locks import lock_in_database
from app.services.products import BARCODE_INDEX
from app.services.recompute import rewrite
from app.services.records import ProductRecord

EXPORT_SQL = """
SELECT coalesce(t.external_id, 'stockroom-' || t.seq) AS external_id, p.sku, p.name AS product_name, p.category,
       p.brand, p.low_stock_threshold, p.overstock_threshold, p.count_interval_days, p.barcode, p.sell_price,
       t.type, t.quantity,
       t.unit_price, t.at, t.reason, t.note, t.id, t.seq, t.stock_after, t.average_cost_after, t.revenue, t.cogs,
       t.realized_pl, t.write_off, t.gain
FROM product p LEFT JOIN stock_transaction t ON t.product = p.id
WHERE ($1::text IS NULL OR p.sku = $1)
  AND ($2::timestamptz IS NULL OR t.at >= $2) AND ($3::timestamptz IS NULL OR t.at < $3)
ORDER BY p.sku, t.at, t.seq
"""
FLUSH_BYTES = 64 * 1024


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):  # the text columns; numbers come as int/Decimal, so "-3" stays a number
        return spreadsheet_safe(value)
    return value.isoformat() if isinstance(value, datetime) else value


async def export_csv(sku: str | None, start: datetime | None, end: datetime | None) -> AsyncIterator[str]:
    """Rows in per-product timeline order, read through a cursor and sent in 64 kB pieces."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    async with snapshot() as conn:
        async for row in conn.cursor(EXPORT_SQL, sku, start, end, prefetch=2000):
            writer.writerow([_cell(v) for v in row.values()])
            if buffer.tell() > FLUSH_BYTES:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue()


# --- import ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    imported: int
    skipped: int  # rows whose external id was imported before
    products_created: int

    def view(self) -> dict[str, int]:
        return {"imported": self.imported, "skipped": self.skipped, "products_created": self.products_created}


Progress = Callable[[str, int, int], None]  # (sku, products done, products in all)


def read_rows(lines: Iterable[str], ledger: LedgerService) -> list[ImportRow]:
    """Parse and check every row; raise InvalidFile naming every bad line (nothing imported)."""
    reader = csv.DictReader(lines)
    line = 0  # the last line read well
    try:
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        line = 1
        if missing:
            raise InvalidFile([LineError(1, c, "column is missing from the header") for c in missing])
        now, errors, rows = ledger.clock(), [], []
        for line, raw in enumerate(reader, start=2):
            try:
                rows.append(parse_row(line, raw, now=now, zone=ledger.zone))
            except InvalidInput as bad:
                errors += [LineError(line, e.field, e.message) for e in bad.errors]
    except csv.Error as unreadable:  # e.g. a cell past the csv module's 128 kB limit, in the row after `line`
        raise InvalidFile([LineError(line + 1, "file", f"cannot be read as CSV here ({unreadable})")]) from None
    seen = Counter(r.external_id for r in rows if r.external_id)
    errors += [LineError(r.line, "external_id", f"{r.external_id!r} appears more than once in the file")
               for r in rows if r.external_id and seen[r.external_id] > 1]  # fmt: skip
    errors += _barcodes_twice(rows)
    if errors:
        raise InvalidFile(sorted(errors, key=lambda e: e.line))
    return rows


async def import_rows(
    rows: list[ImportRow], ledger: LedgerService, progress: Progress | None = None, key: Key | None = None
) -> ImportResult:
    skus = sorted({r.sku for r in rows})
    async with read_only() as conn:
        existing: dict[str, int] = {r["sku"]: r["id"] for r in await conn.fetch(
            "SELECT sku, id FROM product WHERE sku = ANY($1::text[])", skus)}  # fmt: skip
    _check_new_products_are_named(rows, existing)
    async with ledger.locks.hold(*existing.values()), unit_of_work() as conn:
        created = await _create_products(conn, rows, existing)
        ids = {**existing, **created}
        await lock_in_database(conn, *ids.values())
        await idempotency.claim_or_repeat(conn, key)
        known = {r["external_id"] for r in await conn.fetch(
            "SELECT external_id FROM stock_transaction WHERE external_id = ANY($1::text[])",
            [r.external_id for r in rows if r.external_id])}  # fmt: skip
        products = await repo.products_by_ids(conn, list(ids.values()))
        await release_lapsed_holds(conn, *products.values())
        closed = await ledger.closed_period(conn)
        _refuse_closed(rows, closed)  # every dated line named at once; rewrite() would stop at the first
        imported = 0
        for done, sku in enumerate(skus, start=1):
            fresh = [r for r in rows if r.sku == sku and r.transaction and r.external_id not in known]
            products[ids[sku]] = await _import_product(conn, products[ids[sku]], fresh, closed)
            imported += len(fresh)
            if progress:
                progress(sku, done, len(skus))
        await repo.save_all_figures(conn, list(products.values()))
        await announce(conn, ids.values())
        skipped = sum(1 for r in rows if r.transaction) - imported
        result = ImportResult(imported, skipped, len(created))
        await idempotency.keep_one(conn, key, 201, result.view())
    return result


def _refuse_closed(rows: list[ImportRow], closed: ClosedPeriod) -> None:
    dated = [r for r in rows if r.transaction and r.transaction.at and closed.covers(r.transaction.at)]
    if dated:
        raise Conflict(
            f"The books are closed through {closed.through}: {len(dated)} row(s) are dated in that period, "
            f"first on line {dated[0].line}; nothing was imported",
            {"books_closed_through": str(closed.through), "lines": [r.line for r in dated[:100]]},
        )


def _check_new_products_are_named(rows: list[ImportRow], existing: dict[str, int]) -> None:
    named = {r.sku for r in rows if r.product}
    first_line: dict[str, int] = {}
    for r in rows:
        first_line.setdefault(r.sku, r.line)
    errors = [LineError(line, "product_name", f"is required: there is no product {sku!r} yet")
              for sku, line in first_line.items() if sku not in existing and sku not in named]  # fmt: skip
    if errors:
        raise InvalidFile(sorted(errors, key=lambda e: e.line))


async def _create_products(conn: asyncpg.Connection, rows: list[ImportRow], existing: dict[str, int]) -> dict[str, int]:
    new: dict[str, ProductInput] = {}
    lines: dict[str, int] = {}
    for r in rows:
        if r.product and r.sku not in existing:
            new.setdefault(r.sku, r.product)
            lines.setdefault(r.sku, r.line)
    if not new:
        return {}
    p = list(new.values())
    await _refuse_taken_barcodes(conn, p, lines)
    try:
        records = await conn.fetch(
            """INSERT INTO product (sku, name, category, brand, low_stock_threshold, overstock_threshold,
                   count_interval_days, barcode, sell_price)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[],
                   $8::text[], $9::numeric[])
               RETURNING sku, id""",
            [x.sku for x in p], [x.name for x in p], [x.category for x in p], [x.brand for x in p],
            [x.low_stock_threshold for x in p], [x.overstock_threshold for x in p], [x.count_interval_days for x in p],
            [x.barcode for x in p], [x.sell_price for x in p],
        )  # fmt: skip
    except asyncpg.UniqueViolationError as clash:
        if clash.constraint_name != BARCODE_INDEX:
            raise
        raise Conflict("A barcode in the file was given to another product meanwhile; nothing was imported",
                       {"field": "barcode"}) from None  # fmt: skip
    return {r["sku"]: r["id"] for r in records}


def _barcodes_twice(rows: list[ImportRow]) -> list[LineError]:
    """New products of one file sharing a barcode (as a GTIN, like the unique index)."""
    first: dict[str, tuple[str, int]] = {}
    errors = []
    for r in rows:
        code = r.product.barcode if r.product else None
        if code is None:
            continue
        sku, line = first.setdefault(code.zfill(14), (r.sku, r.line))
        if sku != r.sku:
            errors.append(LineError(r.line, "barcode", f"{code} is also the barcode of {sku} on line {line}"))
    return errors


async def _refuse_taken_barcodes(conn: asyncpg.Connection, new: list[ProductInput], lines: dict[str, int]) -> None:
    """A 409 naming the first new product whose barcode an existing product has."""
    wanted = {x.barcode.zfill(14): x for x in new if x.barcode}
    if not wanted:
        return
    taken = await conn.fetch(
        """SELECT sku, lpad(barcode, 14, '0') AS gtin FROM product
           WHERE barcode IS NOT NULL AND lpad(barcode, 14, '0') = ANY($1::text[])""",
        list(wanted),
    )
    if taken:
        clash = min(taken, key=lambda r: lines[wanted[r["gtin"]].sku])
        product = wanted[clash["gtin"]]
        line = lines[product.sku]
        raise Conflict(
            f"Barcode {product.barcode} (line {line}, new product {product.sku}) already belongs to product "
            f"{clash['sku']}; nothing was imported",
            {"field": "barcode", "line": line, "barcode": product.barcode, "sku": clash["sku"]},
        )


async def _import_product(
    conn: asyncpg.Connection, product: ProductRecord, fresh: list[ImportRow], closed: ClosedPeriod
) -> ProductRecord:
    """Place a product's new rows in its timeline in one refold; equal times keep the file's order."""
    if not fresh:
        return product
    fresh = sorted(fresh, key=lambda r: (r.transaction.at, r.line))  # type: ignore[union-attr]
    seqs = await repo.next_seqs(conn, len(fresh))
    by_seq = dict(zip(seqs, fresh, strict=True))
    entries = []
    for seq, row in by_seq.items():
        t = row.transaction
        assert t is not None and t.at is not None
        entries.append(Entry(seq, t.at, t.type, t.quantity, t.unit_price, t.reason))
    try:
        rw = await rewrite(conn, product, drop=None, places=entries, closed=closed)
    except Conflict as conflict:
        breaking = conflict.extra.get("seq")
        line: int | None = by_seq[breaking].line if breaking in by_seq else None
        raise Conflict(f"{conflict.detail} (file line {line})" if line else conflict.detail,
                       {**conflict.extra, "line": line}) from None  # fmt: skip
    await repo.insert_rows(
        conn,
        [product.id] * len(rw.placed),
        rw.placed,
        [by_seq[p.entry.seq].transaction.note for p in rw.placed],  # type: ignore[union-attr]
        [by_seq[p.entry.seq].external_id for p in rw.placed],
    )
    return rw.product
