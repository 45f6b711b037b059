"""Reading a product's history: its timeline page and its monthly figures."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from app.persistence import ledger_rows
from app.persistence.database import read_only
from app.persistence.records import LedgerRow, ProductRecord


async def timeline(product: ProductRecord, limit: int, offset: int, *, newest_first: bool = False) -> list[LedgerRow]:
    async with read_only() as conn:
        return await ledger_rows.timeline_rows(conn, product.id, limit, offset, newest_first=newest_first)


async def stock_points(product: ProductRecord, most: int = 400) -> list[tuple[datetime, int]]:
    """(time, stock after) along the timeline, thinned to at most `most` points (every n-th row and the last)."""
    step = max(1, -(-product.tx_count // most))
    async with read_only() as conn:
        return await ledger_rows.stock_points(conn, product.id, step, product.tx_count)


async def monthly(product: ProductRecord, zone: tzinfo) -> list[dict[str, Any]]:
    """Per calendar month of the business time zone."""
    async with read_only() as conn:
        rows = await ledger_rows.monthly(conn, product.id, str(zone))
    return [{key: (str(value) if key in _DECIMALS else value) for key, value in r.items()} for r in rows]


_DECIMALS = {"revenue", "cogs", "realized_pl", "write_off", "gain", "closing_average_cost"}
