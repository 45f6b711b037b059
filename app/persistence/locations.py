"""Stock locations (`location`) and the stock products hold at each (kept on `product.stocks`)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.domain.immutable import immutable
from app.domain.rules import LocationKind
from app.persistence.products import PRODUCT_SELECT, product_from
from app.persistence.records import ProductRecord

COLUMNS = ("code", "name", "kind", "created_at")


@immutable
class LocationRecord:
    code: str
    name: str
    kind: LocationKind
    created_at: datetime


def _location_from(r: asyncpg.Record) -> LocationRecord:
    return LocationRecord(r["code"], r["name"], LocationKind(r["kind"]), r["created_at"])


class CodeTaken(Exception):
    pass


async def all_locations(conn: asyncpg.Connection) -> list[LocationRecord]:
    """Every location, MAIN first, then by code."""
    rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM location ORDER BY code <> 'MAIN', code")
    return [_location_from(r) for r in rows]


async def by_code(conn: asyncpg.Connection, code: str) -> LocationRecord | None:
    r = await conn.fetchrow(f"SELECT {', '.join(COLUMNS)} FROM location WHERE code = $1", code)
    return _location_from(r) if r else None


async def insert(conn: asyncpg.Connection, code: str, name: str, kind: LocationKind) -> LocationRecord:
    try:
        r = await conn.fetchrow(
            f"INSERT INTO location (code, name, kind) VALUES ($1, $2, $3) RETURNING {', '.join(COLUMNS)}",
            code, name, kind.value,
        )  # fmt: skip
    except asyncpg.UniqueViolationError:
        raise CodeTaken() from None
    return _location_from(r)


async def update(conn: asyncpg.Connection, code: str, name: str, kind: LocationKind) -> LocationRecord | None:
    r = await conn.fetchrow(
        f"UPDATE location SET name = $2, kind = $3 WHERE code = $1 RETURNING {', '.join(COLUMNS)}",
        code, name, kind.value,
    )  # fmt: skip
    return _location_from(r) if r else None


async def products_at(conn: asyncpg.Connection, code: str, limit: int, after_sku: str | None) -> list[ProductRecord]:
    """Products whose ledger has used this location, by SKU, a page after `after_sku` (GIN-free: a
    jsonb key test per product; the page is read in SKU order and stops at `limit`)."""
    rows = await conn.fetch(
        f"{PRODUCT_SELECT} WHERE p.stocks ? $1 AND ($2::text IS NULL OR p.sku > $2) ORDER BY p.sku LIMIT $3",
        code, after_sku, limit,
    )  # fmt: skip
    return [product_from(r) for r in rows]


async def min_stocks(conn: asyncpg.Connection, product_id: int) -> dict[str, int]:
    rows = await conn.fetch("SELECT location, min_stock FROM location_min_stock WHERE product = $1", product_id)
    return {r["location"]: r["min_stock"] for r in rows}


async def set_min_stock(conn: asyncpg.Connection, product_id: int, code: str, min_stock: int | None) -> None:
    """A location's replenishment hint for a product; None removes it."""
    if min_stock is None:
        await conn.execute("DELETE FROM location_min_stock WHERE product = $1 AND location = $2", product_id, code)
        return
    await conn.execute(
        """INSERT INTO location_min_stock (product, location, min_stock) VALUES ($1, $2, $3)
           ON CONFLICT (product, location) DO UPDATE SET min_stock = excluded.min_stock""",
        product_id, code, min_stock,
    )  # fmt: skip


async def defaulting_to(conn: asyncpg.Connection, code: str, limit: int) -> list[str]:
    """SKUs of up to `limit` products whose default location this is."""
    rows = await conn.fetch("SELECT sku FROM product WHERE default_location = $1 ORDER BY sku LIMIT $2", code, limit)
    return [r["sku"] for r in rows]
