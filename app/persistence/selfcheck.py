"""The self-check's reads and its record: products a piece at a time, the ones whose stored
`reserved` is not what their active reservations hold, and the last full check's outcome (kept in
`app_setting`, as JSON, under `selfcheck.*` keys, as backups are: no table of its own)."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from app.persistence.products import PRODUCT_SELECT, product_from
from app.persistence.records import ProductRecord

HELD_SQL = """
SELECT p.sku, p.reserved, coalesce(sum(r.quantity) FILTER (WHERE r.status = 'active'), 0) AS held
FROM product p LEFT JOIN reservation r ON r.product = p.id
{where}
GROUP BY p.id HAVING p.reserved <> coalesce(sum(r.quantity) FILTER (WHERE r.status = 'active'), 0)
"""


# Products whose stored `held` (location -> units) is not what their active holds naming a location
# hold there (one probe of the active holds per product).
HELD_THERE_SQL = """
SELECT p.sku, p.held::text AS stored, h.held::text AS holding
FROM product p, LATERAL (
    SELECT coalesce(jsonb_object_agg(x.location, x.quantity), '{}') AS held
    FROM (SELECT r.location, sum(r.quantity) AS quantity FROM reservation r
          WHERE r.product = p.id AND r.status = 'active' AND r.location IS NOT NULL GROUP BY r.location) AS x) AS h
WHERE p.id = ANY($1::bigint[]) AND p.held <> h.held
"""


LAST = "selfcheck.last"  # the last full check that finished
RUNNING = "selfcheck.running"  # the full check under way (its progress), if any


async def every_product(conn: asyncpg.Connection) -> list[ProductRecord]:
    return [product_from(r) for r in await conn.fetch(f"{PRODUCT_SELECT} ORDER BY p.id")]


async def products_after(conn: asyncpg.Connection, after_id: int, limit: int) -> list[ProductRecord]:
    """The next `limit` products by id (a full check's piece)."""
    return [product_from(r) for r in await conn.fetch(f"{PRODUCT_SELECT} WHERE p.id > $1 ORDER BY p.id LIMIT $2",
                                                      after_id, limit)]  # fmt: skip


async def product_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM product"))


async def reserved_not_held(conn: asyncpg.Connection, ids: list[int] | None = None) -> dict[str, tuple[int, int]]:
    """SKU -> (stored reserved, what the active reservations hold), where the two differ (of the
    products `ids`, or of all)."""
    if ids is None:
        found = await conn.fetch(HELD_SQL.format(where=""))
    else:
        found = await conn.fetch(HELD_SQL.format(where="WHERE p.id = ANY($1::bigint[])"), ids)
    return {r["sku"]: (r["reserved"], r["held"]) for r in found}


async def held_not_kept(conn: asyncpg.Connection, ids: list[int]) -> dict[str, tuple[dict[str, int], dict[str, int]]]:
    """SKU -> (stored `held`, what the active holds naming a location hold, by location), where the
    two differ (of the products `ids`)."""
    found = await conn.fetch(HELD_THERE_SQL, ids)
    return {r["sku"]: (json.loads(r["stored"]), json.loads(r["holding"])) for r in found}


async def record(conn: asyncpg.Connection, key: str, value: dict[str, Any] | None) -> None:
    """Keep (or with None forget) a check's record under `key`."""
    if value is None:
        await conn.execute("DELETE FROM app_setting WHERE key = $1", key)
        return
    await conn.execute(
        """INSERT INTO app_setting (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        key, json.dumps(value),
    )  # fmt: skip


async def records(conn: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    """The kept records (LAST, RUNNING), those that exist."""
    found = await conn.fetch("SELECT key, value FROM app_setting WHERE key = ANY($1::text[])", [LAST, RUNNING])
    return {r["key"]: json.loads(r["value"]) for r in found if r["value"]}
