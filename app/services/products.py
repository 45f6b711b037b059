"""Products: create, change settings, look up and list (with their summary figures)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.errors import Conflict, NotFound
from app.domain.inputs import ProductInput, merge_product_patch, parse_product
from app.services import idempotency
from app.services import ledger_repo as repo
from app.services.database import read_only, unit_of_work
from app.services.events import announce
from app.services.idempotency import Key
from app.services.records import ProductRecord
from app.services.views import product_view

BARCODE_INDEX = "product_barcode_gtin_idx"  # unique as a GTIN (see its migration)
# $1 is the same code as `barcode`, padded to a GTIN-14 (lpad would cut a longer text: it never matches).
_SAME_GTIN = "(barcode IS NOT NULL AND length($1) <= 13 AND lpad(barcode, 14, '0') = lpad($1, 14, '0'))"
_STATUS_SQL = """CASE WHEN on_hand - live_reserved <= 0 THEN 'out'
                      WHEN on_hand - live_reserved <= low_stock_threshold THEN 'low' ELSE 'ok' END"""


def _settings_of(p: ProductRecord) -> ProductInput:
    return ProductInput(
        p.sku, p.name, p.category, p.brand, p.low_stock_threshold, p.overstock_threshold, p.count_interval_days,
        p.barcode, p.sell_price,
    )  # fmt: skip


async def create(raw: Mapping[str, Any], key: Key | None = None) -> ProductRecord:
    data = parse_product(raw)
    async with unit_of_work() as conn:
        await idempotency.claim_or_repeat(conn, key)
        await _refuse_taken_barcode(conn, data)
        try:
            await conn.execute(
                """INSERT INTO product (sku, name, category, brand, low_stock_threshold, overstock_threshold,
                       count_interval_days, barcode, sell_price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                data.sku, data.name, data.category, data.brand, data.low_stock_threshold,
                data.overstock_threshold, data.count_interval_days, data.barcode, data.sell_price,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as clash:
            if clash.constraint_name == BARCODE_INDEX:
                raise _barcode_taken(data.barcode, None) from None
            raise Conflict(f"A product with SKU {data.sku!r} already exists", {"field": "sku"}) from None
        created = await _require(conn, data.sku)
        await announce(conn, [created.id])
        await idempotency.keep_one(conn, key, 201, product_view(created))
        return created


async def update(sku: str, patch: Mapping[str, Any]) -> ProductRecord:
    async with unit_of_work() as conn:
        current = await _require(conn, sku)
        data = parse_product(merge_product_patch(_settings_of(current), patch))
        await _refuse_taken_barcode(conn, data)
        try:
            await conn.execute(
                """UPDATE product SET name = $2, category = $3, brand = $4, low_stock_threshold = $5,
                       overstock_threshold = $6, count_interval_days = $7, barcode = $8, sell_price = $9
                   WHERE sku = $1""",
                sku, data.name, data.category, data.brand, data.low_stock_threshold,
                data.overstock_threshold, data.count_interval_days, data.barcode, data.sell_price,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:  # taken by a product made meanwhile
            raise _barcode_taken(data.barcode, None) from None
        await announce(conn, [current.id])
        return await _require(conn, sku)


async def get(sku: str) -> ProductRecord:
    async with read_only() as conn:
        return await _require(conn, sku)


async def listing(q: str | None = None, category: str | None = None, status: str | None = None) -> list[ProductRecord]:
    where, args = ["TRUE"], []
    if q:
        args.append(f"%{_escape_like(q)}%")
        where.append(f"(sku ILIKE ${len(args)} OR name ILIKE ${len(args)})")
    if category:
        args.append(category)
        where.append(f"category = ${len(args)}")
    if status:
        args.append(status)
        where.append(f"({_STATUS_SQL}) = ${len(args)}")
    async with read_only() as conn:
        rows = await conn.fetch(
            f"SELECT * FROM ({repo.PRODUCT_SELECT}) AS p WHERE {' AND '.join(where)} ORDER BY sku", *args
        )
    return [repo.product_from(r) for r in rows]


@dataclass(frozen=True, slots=True)
class Suggestion:
    product: ProductRecord
    exact: bool  # the text is this product's SKU or barcode: a scan or a typed code picks it at once


# SKUs starting with the text first, then by name. Each word must appear in the SKU or the name.
_SUGGEST_SQL = f"""
WITH hit AS (
    SELECT id, sku ILIKE $1 AS prefix, sku, name FROM product
    WHERE {{words}}
    ORDER BY prefix DESC, name, sku
    LIMIT $2
)
SELECT p.* FROM hit JOIN ({repo.PRODUCT_SELECT}) AS p USING (id)
ORDER BY hit.prefix DESC, hit.name, hit.sku
"""
_BY_CODE_SQL = f"""{repo.PRODUCT_SELECT}
WHERE p.sku = $1 OR {_SAME_GTIN.replace("barcode", "p.barcode")}
ORDER BY p.sku = $1 DESC LIMIT 1"""
MAX_WORDS = 5


async def suggest(text: str, limit: int = 8) -> list[Suggestion]:
    """Products a counter clerk may mean by `text`: the one whose SKU or barcode it is (two index
    probes: a scan is answered at once), else those with every word of it in their SKU or name
    (a scan of the names: about 50 ms at 50,000 products). Only the few shown are summed up."""
    text = text.strip()[:200]
    words = text.split()[:MAX_WORDS]
    if not words:
        return []
    args: list[Any] = [f"{_escape_like(text)}%", limit]
    match = []
    for word in words:
        args.append(f"%{_escape_like(word)}%")
        match.append(f"(sku ILIKE ${len(args)} OR name ILIKE ${len(args)})")
    async with read_only() as conn:
        exact = await conn.fetchrow(_BY_CODE_SQL, text)
        if exact is not None:
            return [Suggestion(repo.product_from(exact), True)]
        rows = await conn.fetch(_SUGGEST_SQL.format(words=" AND ".join(match)), *args)
    return [Suggestion(repo.product_from(r), False) for r in rows]


async def by_code(code: str) -> ProductRecord | None:
    """The product whose SKU or barcode this is (what a scanner or a typed SKU names), or None."""
    async with read_only() as conn:
        row = await conn.fetchrow(_BY_CODE_SQL, code.strip()[:200])
    return repo.product_from(row) if row else None


async def _refuse_taken_barcode(conn: asyncpg.Connection, data: ProductInput) -> None:
    """A 409 naming the product that already has this barcode (as a GTIN: a UPC-A and the same
    code with a leading 0 are one). The unique index still decides a race."""
    if data.barcode is None:
        return
    owner = await conn.fetchval(
        f"SELECT sku FROM product WHERE {_SAME_GTIN} AND sku <> $2",
        data.barcode, data.sku,
    )  # fmt: skip
    if owner is not None:
        raise _barcode_taken(data.barcode, owner)


def _barcode_taken(code: str | None, owner: str | None) -> Conflict:
    whose = f"product {owner}" if owner else "another product"
    return Conflict(f"Barcode {code} already belongs to {whose}", {"field": "barcode", "barcode": code, "sku": owner})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _require(conn: asyncpg.Connection, sku: str) -> ProductRecord:
    product = await repo.product_by_sku(conn, sku)
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}", {"sku": sku})
    return product
