"""The self-check's reads: every product, and the ones whose stored `reserved` is not what their
active reservations hold."""

from __future__ import annotations

import asyncpg

from app.persistence.products import PRODUCT_SELECT, product_from
from app.persistence.records import ProductRecord

HELD_SQL = """
SELECT p.sku, p.reserved, coalesce(sum(r.quantity) FILTER (WHERE r.status = 'active'), 0) AS held
FROM product p LEFT JOIN reservation r ON r.product = p.id
GROUP BY p.id HAVING p.reserved <> coalesce(sum(r.quantity) FILTER (WHERE r.status = 'active'), 0)
"""


async def every_product(conn: asyncpg.Connection) -> list[ProductRecord]:
    return [product_from(r) for r in await conn.fetch(f"{PRODUCT_SELECT} ORDER BY p.id")]


async def reserved_not_held(conn: asyncpg.Connection) -> dict[str, tuple[int, int]]:
    """SKU -> (stored reserved, what the active reservations hold), where the two differ."""
    return {r["sku"]: (r["reserved"], r["held"]) for r in await conn.fetch(HELD_SQL)}
