"""Change notices (PostgreSQL NOTIFY on CHANNEL, sent at commit) and the product reads of the live
event stream."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from app.persistence import products
from app.persistence.products import PRODUCT_SELECT, product_from
from app.persistence.records import ProductRecord

CHANNEL = "stockroom"
MAX_PAYLOAD = 7000  # NOTIFY payloads stop at 8000 bytes


async def announce(conn: asyncpg.Connection, product_ids: Iterable[int]) -> None:
    """Queue a notice that these products changed (their ids, comma-separated, in as many payloads
    as it takes); PostgreSQL sends it at commit, and a rolled-back change sends nothing."""
    text = ",".join(str(i) for i in sorted(set(product_ids)))
    while text:
        cut = text.rfind(",", 0, MAX_PAYLOAD) if len(text) > MAX_PAYLOAD else len(text)
        await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, text[:cut])
        text = text[cut + 1 :]


def changed_ids(payload: str) -> list[int]:
    return [int(x) for x in payload.split(",") if x]


async def by_ids(conn: asyncpg.Connection, product_ids: Sequence[int]) -> list[ProductRecord]:
    return list((await products.by_ids(conn, product_ids)).values())


async def statuses_by_ids(conn: asyncpg.Connection, product_ids: Sequence[int]) -> list[tuple[str, int, int]]:
    """(sku, available, low-stock threshold) of each product: what its stock status is made of."""
    rows = await conn.fetch(
        f"SELECT sku, on_hand - live_reserved, low_stock_threshold "
        f"FROM ({PRODUCT_SELECT} WHERE p.id = ANY($1::bigint[])) p",
        list(product_ids),
    )
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def by_skus(conn: asyncpg.Connection, skus: Sequence[str]) -> list[ProductRecord]:
    rows = await conn.fetch(f"{PRODUCT_SELECT} WHERE p.sku = ANY($1::text[]) ORDER BY p.sku", list(skus))
    return [product_from(r) for r in rows]


async def after_sku(conn: asyncpg.Connection, after: str, limit: int) -> list[ProductRecord]:
    """Up to `limit` products in SKU order, from the first past `after` (read by key, a piece at a time)."""
    rows = await conn.fetch(f"{PRODUCT_SELECT} WHERE p.sku > $1 ORDER BY p.sku LIMIT $2", after, limit)
    return [product_from(r) for r in rows]
