"""Reading a product's history: its timeline page and its monthly figures."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from app.services import ledger_repo as repo
from app.services.database import read_only
from app.services.records import LedgerRow, ProductRecord


async def timeline(product: ProductRecord, limit: int, offset: int) -> list[LedgerRow]:
    async with read_only() as conn:
        rows = await conn.fetch(
            f"""SELECT {repo.ROW_COLUMNS} FROM stock_transaction t JOIN product p ON p.id = t.product
                WHERE t.product = $1 ORDER BY t.at, t.seq LIMIT $2 OFFSET $3""",
            product.id, limit, offset,
        )  # fmt: skip
    return [repo.row_from(r) for r in rows]


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
