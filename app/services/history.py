"""Reading a product's history: its timeline page and its monthly figures."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from app.persistence.database import read_only
from app.services import ledger_repo as repo
from app.services.records import LedgerRow, ProductRecord


async def timeline(product: ProductRecord, limit: int, offset: int, *, newest_first: bool = False) -> list[LedgerRow]:
    async with read_only() as conn:
        return await repo.timeline_rows(conn, product.id, limit, offset, newest_first=newest_first)


async def stock_points(product: ProductRecord, most: int = 400) -> list[tuple[datetime, int]]:
    """(time, stock after) along the timeline, thinned to at most `most` points (every n-th row and the last)."""
    step = max(1, -(-product.tx_count // most))
    async with read_only() as conn:
        rows = await conn.fetch(
            """SELECT at, stock_after FROM (
                   SELECT at, stock_after, row_number() OVER (ORDER BY at, seq) AS n
                   FROM stock_transaction WHERE product = $1) s
               WHERE (n - 1) % $2 = 0 OR n = $3 ORDER BY n""",
            product.id, step, product.tx_count,
        )  # fmt: skip
    return [(r["at"], r["stock_after"]) for r in rows]


MONTHLY_SQL = """
SELECT to_char(date_trunc('month', at AT TIME ZONE $2), 'YYYY-MM') AS month,
       coalesce(sum(quantity) FILTER (WHERE type = 'BUY'), 0)::bigint AS bought,
       coalesce(sum(quantity) FILTER (WHERE type = 'SELL'), 0)::bigint AS sold,
       coalesce(sum(quantity) FILTER (WHERE type = 'ADJUST'), 0)::bigint AS adjusted,
       sum(revenue) AS revenue, sum(cogs) AS cogs, sum(realized_pl) AS realized_pl,
       sum(write_off) AS write_off, sum(gain) AS gain,
       (array_agg(stock_after ORDER BY at DESC, seq DESC))[1] AS closing_stock,
       (array_agg(average_cost_after ORDER BY at DESC, seq DESC))[1] AS closing_average_cost
FROM stock_transaction WHERE product = $1
GROUP BY 1 ORDER BY 1
"""


async def monthly(product: ProductRecord, zone: tzinfo) -> list[dict[str, Any]]:
    """Per calendar month of the business time zone."""
    async with read_only() as conn:
        rows = await conn.fetch(MONTHLY_SQL, product.id, str(zone))
    return [{key: (str(value) if key in _DECIMALS else value) for key, value in dict(r).items()} for r in rows]


_DECIMALS = {"revenue", "cogs", "realized_pl", "write_off", "gain", "closing_average_cost"}
