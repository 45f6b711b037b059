"""The dashboard's totals of the whole filtered set, kept per filter in this process until a change,
and its alerts panel (the worst products and how many alert), likewise.

Summing every matching product is the part of the dashboard whose cost grew with the catalogue
(≈ 20–25 ms at 50,000 products, issue 13), and counting the products that alert the other (≈ 5 ms
at 50,000 products, 3,000 of them alerting); between two changes every render asks the same: they
are kept (`UntilChange`: exact across processes, forgotten at every change notice). Time changes
one figure without a commit: a hold whose time passes stops counting as reserved (before the
sweeper expires it), so what is kept also expires at the next such moment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from app.persistence import products as repo
from app.persistence.database import Database
from app.persistence.products import Filters
from app.persistence.records import ProductRecord
from app.services.until_change import UntilChange

MOST_KEPT = 256  # filters kept at once (the least recently read is dropped first)


class DashboardTotals:
    """The totals of the products a filter matches (`products.totals`), kept per filter until a
    change notice: a render of a kept filter costs one echo through the listener, whatever the
    catalogue's size."""

    def __init__(self, db: Database, caught_up: Callable[[], Awaitable[bool]], most: int = MOST_KEPT) -> None:
        self.db = db
        self.kept: UntilChange[Filters, dict[str, Any]] = UntilChange(caught_up, most)
        self.alerts: UntilChange[int, tuple[list[ProductRecord], int]] = UntilChange(caught_up, 4)  # by limit
        self.places: UntilChange[Filters, list[repo.LocationTotal]] = UntilChange(caught_up, most)

    def forget(self) -> None:
        self.kept.forget()
        self.alerts.forget()
        self.places.forget()

    async def of(self, filters: Filters) -> dict[str, Any]:
        """The totals as `products.totals` sums them, at least as recent as every change committed
        before this call."""
        return await self.kept.get(filters, lambda: self._sum(filters))

    async def alerting(self, limit: int) -> tuple[list[ProductRecord], int]:
        """Products low or out of stock (the worst first), at most `limit`, and how many there are
        (`products.alerting`), at least as recent as every change committed before this call."""
        return await self.alerts.get(limit, lambda: self._alerting(limit))

    async def by_location(self, filters: Filters) -> list[repo.LocationTotal]:
        """The units on hand and held at each location over the products a filter matches
        (`products.location_totals`), kept as the totals are: the sum reads every matching product."""
        return await self.places.get(filters, lambda: self._by_location(filters))

    async def _by_location(self, filters: Filters) -> tuple[list[repo.LocationTotal], float]:
        async with self.db.read_only() as conn:
            sums = await repo.location_totals(conn, filters)
            lapse_in = await repo.seconds_to_next_lapse(conn)
        return sums, float("inf") if lapse_in is None else lapse_in

    async def _alerting(self, limit: int) -> tuple[tuple[list[ProductRecord], int], float]:
        async with self.db.read_only() as conn:
            found = await repo.alerting(conn, limit)
            lapse_in = await repo.seconds_to_next_lapse(conn)
        return found, float("inf") if lapse_in is None else lapse_in

    async def _sum(self, filters: Filters) -> tuple[dict[str, Any], float]:
        async with self.db.read_only() as conn:
            totals = await repo.totals(conn, filters)
        lapse_in = totals.pop("next_lapse_in")
        return totals, float("inf") if lapse_in is None else lapse_in
