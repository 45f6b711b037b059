"""The dashboard's totals of the whole filtered set, kept per filter in this process until a change.

Summing every matching product is the one part of the dashboard whose cost grows with the catalogue
(≈ 20–25 ms at 50,000 products, issue 13), and between two changes every render of a filter asks
the same sums. So each filter's totals are kept here, and forgotten whenever the live-events
listener (`EventHub`) hears of a change: every writer, in any process, announces the products it
changed in its transaction (`announce`), and a change notice reaches every process's listener.

Exact, not merely fresh enough: before a render reads what is kept, the hub's `caught_up` sends a
notice to itself and waits for it; PostgreSQL delivers notices in commit order, so every change
committed before the render asked has by then been heard and has emptied what was kept. Totals
computed while a change was heard are not kept. When the listener is down (or the echo is slow)
the sums are computed each time, as before. Time changes one figure without a commit: a hold
whose time passes stops counting as reserved (before the sweeper expires it), so kept totals also
expire at the next such moment.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.persistence import products as repo
from app.persistence.database import Database
from app.persistence.products import Filters

MOST_KEPT = 256  # filters kept at once (the least recently read is dropped first)


@dataclass(frozen=True, slots=True)
class _Kept:
    totals: dict[str, Any]
    until: float  # the event loop's clock: when a hold's time passes and the reserved figure changes


class DashboardTotals:
    """The totals of the products a filter matches (`products.totals`), kept per filter until a
    change notice: a render of a kept filter costs one echo through the listener, whatever the
    catalogue's size."""

    def __init__(self, db: Database, caught_up: Callable[[], Awaitable[bool]], most: int = MOST_KEPT) -> None:
        self.db = db
        self.caught_up = caught_up
        self.most = most
        self._kept: OrderedDict[Filters, _Kept] = OrderedDict()
        self._generation = 0  # counts forget(): totals computed across one are not kept

    def forget(self) -> None:
        """Something changed (or change notices may have been missed): nothing kept holds."""
        self._kept.clear()
        self._generation += 1

    async def of(self, filters: Filters) -> dict[str, Any]:
        """The totals as `products.totals` sums them, at least as recent as every change committed
        before this call."""
        loop = asyncio.get_running_loop()
        if not await self.caught_up():
            self.forget()
            return (await self._sum(filters))[0]
        kept = self._kept.get(filters)
        if kept is not None and loop.time() < kept.until:
            self._kept.move_to_end(filters)
            return kept.totals
        generation, started = self._generation, loop.time()
        totals, lapse_in = await self._sum(filters)
        if generation == self._generation:
            self._kept[filters] = _Kept(totals, started + lapse_in)
            self._kept.move_to_end(filters)
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return totals

    async def _sum(self, filters: Filters) -> tuple[dict[str, Any], float]:
        async with self.db.read_only() as conn:
            totals = await repo.totals(conn, filters)
        lapse_in = totals.pop("next_lapse_in")
        return totals, float("inf") if lapse_in is None else lapse_in
