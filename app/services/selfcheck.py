"""The `anomalies` self-check: stored figures against a fresh replay of every ledger."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.domain.ledger import Breach, Replay, replay
from app.domain.summary import totals_of
from app.persistence import ledger_rows
from app.persistence import selfcheck as rows
from app.persistence.database import Database
from app.persistence.records import LedgerRow, ProductRecord


class SelfCheck:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def anomalies(self) -> list[dict[str, Any]]:
        """Every product whose stored figures differ from a replay, or that breaks the invariant;
        read in one snapshot."""
        found: list[dict[str, Any]] = []
        async with self.db.snapshot() as conn:
            products = await rows.every_product(conn)
            held = await rows.reserved_not_held(conn)
            for product in products:
                problems = await _check(conn, product)
                if product.sku in held:
                    reserved, holding = held[product.sku]
                    problems.append(f"reserved {reserved} but active reservations hold {holding}")
                if problems:
                    found.append({"sku": product.sku, "problems": problems})
        return found


async def _check(conn: asyncpg.Connection, product: ProductRecord) -> list[str]:
    timeline = await ledger_rows.timeline_rows(conn, product.id)
    fresh = replay([r.entry for r in timeline])
    if isinstance(fresh, Breach):
        return [f"ledger breaks the invariant: {fresh.describe()}"]
    problems = [
        f"transaction {row.entry.id}: stored {row.figures} but replay gives {new.figures}"
        for row, new in zip(timeline, fresh.posted, strict=True)
        if row.figures != new.figures
    ]
    problems += _summary_problems(product, timeline, fresh)
    return problems


def _summary_problems(product: ProductRecord, rows: list[LedgerRow], fresh: Replay) -> list[str]:
    problems = []
    if product.position != fresh.end:
        problems.append(f"on hand/average cost {product.position} differ from the replay {fresh.end}")
    totals = totals_of(list(fresh.posted))
    if product.totals != totals:
        problems.append(f"totals {product.totals} differ from the replay {totals}")
    if product.tx_count != len(rows):
        problems.append(f"transaction count {product.tx_count} but {len(rows)} rows")
    if product.position.stock < product.reserved:
        problems.append(f"on hand {product.position.stock} below reserved {product.reserved}")
    last_key = rows[-1].entry.key if rows else None
    if product.last_key != last_key:
        problems.append(f"last point {product.last_key} but the timeline ends at {last_key}")
    counts = [r.entry.at for r in rows if r.entry.type == "COUNT"]
    sales = [r.entry.at for r in rows if r.entry.type == "SELL"]
    if product.last_counted_at != (max(counts) if counts else None):
        problems.append("last_counted_at differs from the latest COUNT")
    if product.last_sale_at != (max(sales) if sales else None):
        problems.append("last_sale_at differs from the latest SELL")
    return problems
