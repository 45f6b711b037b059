"""The dashboard's totals of the whole filtered set, kept per filter in this process until a change.

Summing every matching product is the one part of the dashboard whose cost grows with the catalogue
(≈ 20–25 ms at 50,000 products, issue 13), and between two changes every render of a filter asks
the same sums: they are kept (`UntilChange`: exact across processes, forgotten at every change
notice). Time changes one figure without a commit: a hold whose time passes stops counting as
reserved (before the sweeper expires it), so kept totals also expire at the next such moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.persistence import products as repo
from app.persistence.database import Database
from app.persistence.products import Filters
from app.services.until_change import UntilChange

MOST_KEPT = 256  # filters kept at once (the least recently read is dropped first)


class DashboardTotals:
    """The totals of the products a filter matches (`products.totals`), kept per filter until a
    change notice: a render of a kept filter costs one echo through the listener, whatever the
    catalogue's size."""

    def __init__(self, db: Database, caught_up: Callable[[], Awaitable[bool]], most: int = MOST_KEPT) -> None:
        self.db = db
        self.kept: UntilChange[Filters, dict[str, Any]] = UntilChange(caught_up, most)

    def forget(self) -> None:
        self.kept.forget()

    async def of(self, filters: Filters) -> dict[str, Any]:
        """The totals as `products.totals` sums them, at least as recent as every change committed
        before this call."""
        return await self.kept.get(filters, lambda: self._sum(filters))

    async def _sum(self, filters: Filters) -> tuple[dict[str, Any], float]:
        async with self.db.read_only() as conn:
            totals = await repo.totals(conn, filters)
        lapse_in = totals.pop("next_lapse_in")
        return totals, float("inf") if lapse_in is None else lapse_in
