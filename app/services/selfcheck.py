"""The `anomalies` self-check: stored figures against a fresh replay of every ledger.

A full check reads the catalogue a piece of PIECE products at a time, each piece in one snapshot
(a product's figures and its rows are always read together), and each product's ledger CHUNK rows
at a time, folding on from where the last chunk left: its memory does not grow with the catalogue
or with a ledger, and no snapshot is held for the whole run. It reports its progress as it goes
(a callback, and the RUNNING record every piece, which any process can read) and keeps what it
found as the LAST record, with when it ran. One product is checked the same way, at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.domain.errors import NotFound
from app.domain.ledger import EMPTY, Breach, replay
from app.domain.rules import TxType
from app.domain.summary import Totals, totals_of
from app.persistence import ledger_rows
from app.persistence import products as product_repo
from app.persistence import selfcheck as rows
from app.persistence.database import Database
from app.persistence.records import ProductRecord

PIECE = 500  # products per snapshot
CHUNK = 20_000  # ledger rows read and folded at a time
KEPT = 1_000  # anomalies kept in the record (the count is always exact)
STALE_SECONDS = 120  # a RUNNING record not updated for this long is a check that died


@dataclass(slots=True)
class CheckProgress:
    started_at: str
    products: int  # in the catalogue when the check started
    products_done: int = 0
    rows_done: int = 0
    updated_at: str = ""


@dataclass(slots=True)
class CheckOutcome:
    started_at: str
    finished_at: str
    products: int
    rows: int
    anomalies: int
    items: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).isoformat()


class SelfCheck:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._job: asyncio.Task[CheckOutcome] | None = None

    async def product(self, sku: str) -> list[dict[str, Any]]:
        """One product checked at once: [] or one item."""
        async with self.db.snapshot() as conn:
            product = await product_repo.by_sku(conn, sku)
            if product is None:
                raise NotFound(f"No product with SKU {sku!r}", {"field": "sku", "sku": sku})
            held = await rows.reserved_not_held(conn, [product.id])
            there = await rows.held_not_kept(conn, [product.id])
            problems, _ = await _check(conn, product)
        if product.sku in held:
            problems.append(_held_problem(*held[product.sku]))
        if product.sku in there:
            problems.append(_held_there_problem(*there[product.sku]))
        return [{"sku": product.sku, "problems": problems}] if problems else []

    async def full(
        self, progress: Callable[[CheckProgress], None] | None = None, begun: Callable[[], None] | None = None
    ) -> CheckOutcome:
        """Check every product, a piece at a time; keep the outcome as the last full check. The RUNNING
        record is kept first (then `begun` is called), so any process can tell a check is under way."""
        items: list[dict[str, Any]] = []
        found = 0
        after_id = 0
        try:
            async with self.db.unit_of_work() as conn:
                state = CheckProgress(_now(), await rows.product_count(conn))
                state.updated_at = state.started_at
                await rows.record(conn, rows.RUNNING, asdict(state))
            if begun:
                begun()
            while True:
                async with self.db.snapshot() as conn:
                    products = await rows.products_after(conn, after_id, PIECE)
                    if not products:
                        break
                    held = await rows.reserved_not_held(conn, [p.id for p in products])
                    there = await rows.held_not_kept(conn, [p.id for p in products])
                    for product in products:
                        problems, count = await _check(conn, product)
                        if product.sku in held:
                            problems.append(_held_problem(*held[product.sku]))
                        if product.sku in there:
                            problems.append(_held_there_problem(*there[product.sku]))
                        if problems:
                            found += 1
                            if len(items) < KEPT:
                                items.append({"sku": product.sku, "problems": problems})
                        state.rows_done += count
                after_id = products[-1].id
                state.products_done += len(products)
                state.updated_at = _now()
                async with self.db.unit_of_work() as conn:
                    await rows.record(conn, rows.RUNNING, asdict(state))
                if progress:
                    progress(state)
            outcome = CheckOutcome(state.started_at, _now(), state.products_done, state.rows_done, found, items)
            async with self.db.unit_of_work() as conn:
                await rows.record(conn, rows.LAST, asdict(outcome))
                await rows.record(conn, rows.RUNNING, None)
        except BaseException:
            async with self.db.unit_of_work() as conn:
                await rows.record(conn, rows.RUNNING, None)
            raise
        return outcome

    async def start(self) -> bool:
        """Start a full check in the background of this process (False: one is already running here).
        Returns once the check's RUNNING record is kept (or the check ended): the page asked next,
        which another worker process may answer, then shows it running, or its outcome."""
        if self._job is not None and not self._job.done():
            return False
        begun = asyncio.Event()
        self._job = asyncio.create_task(self.full(begun=begun.set), name="selfcheck")
        self._job.add_done_callback(_log_failure)
        recorded = asyncio.create_task(begun.wait())
        try:
            await asyncio.wait({self._job, recorded}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            recorded.cancel()
        return True

    async def finish(self) -> None:
        """Stop a background check (the app is shutting down)."""
        if self._job is not None and not self._job.done():
            self._job.cancel()
            try:
                await self._job
            except (asyncio.CancelledError, Exception):
                pass

    async def report(self, sku: str | None = None) -> dict[str, Any]:
        """The anomalies report: with `sku` that product checked now; else what the last full check
        found, when it ran, and the one running (its progress), if any."""
        if sku is not None:
            return {"items": await self.product(sku), "checked_at": _now(), "scope": "product",
                    "last_full_check": None, "running": None}  # fmt: skip
        async with self.db.read_only() as conn:
            kept = await rows.records(conn)
        last, running = kept.get(rows.LAST), kept.get(rows.RUNNING)
        if running and (datetime.now(UTC) - datetime.fromisoformat(running["updated_at"] or running["started_at"])
                        ).total_seconds() > STALE_SECONDS:  # fmt: skip
            running = None
        summary = None
        if last:
            summary = {k: last[k] for k in ("started_at", "finished_at", "products", "rows", "anomalies")}
        return {"items": last["items"] if last else [], "checked_at": last["finished_at"] if last else None,
                "scope": "catalogue", "last_full_check": summary, "running": running}  # fmt: skip

    async def run_now(self) -> dict[str, Any]:
        """A full check awaited here (after the one already running in this process, if any), then the report."""
        if self._job is not None and not self._job.done():
            await asyncio.shield(self._job)
        await self.full()
        return await self.report()


def _log_failure(task: asyncio.Task[CheckOutcome]) -> None:
    if not task.cancelled() and task.exception() is not None:
        import logging

        logging.getLogger("stockroom.selfcheck").error("the full self-check failed", exc_info=task.exception())


def _held_stock(stocks: Mapping[str, int]) -> dict[str, int]:
    """Stock by location, leaving out the places that hold none (a location once used is listed at 0)."""
    return {code: units for code, units in stocks.items() if units}


def _held_problem(reserved: int, holding: int) -> str:
    return f"reserved {reserved} but active reservations hold {holding}"


def _held_there_problem(stored: dict[str, int], holding: dict[str, int]) -> str:
    return f"held by location {stored} but active reservations naming a location hold {holding}"


async def _check(conn: asyncpg.Connection, product: ProductRecord) -> tuple[list[str], int]:
    """A product's stored figures against a replay of its ledger, read and folded CHUNK rows at a
    time; the problems found and the rows read."""
    problems: list[str] = []
    position = EMPTY
    stocks: dict[str, int] = {}
    totals = Totals()
    count = 0
    after = None
    last_key = None
    last_count = last_sale = None
    while True:
        chunk = await ledger_rows.timeline_page(conn, product.id, CHUNK, after)
        if not chunk:
            break
        fresh = replay([r.entry for r in chunk], position, stocks)
        if isinstance(fresh, Breach):
            return [f"ledger breaks the invariant: {fresh.describe()}"], count + len(chunk)
        problems += [
            f"transaction {row.entry.id}: stored {row.figures} but replay gives {new.figures}"
            for row, new in zip(chunk, fresh.posted, strict=True)
            if row.figures != new.figures
        ]
        totals = totals + totals_of(fresh.posted)
        position, stocks = fresh.end, dict(fresh.stocks)
        count += len(chunk)
        last_key = after = chunk[-1].entry.key
        for r in chunk:
            if r.entry.type is TxType.COUNT:
                last_count = r.entry.at if last_count is None else max(last_count, r.entry.at)
            elif r.entry.type is TxType.SELL:
                last_sale = r.entry.at if last_sale is None else max(last_sale, r.entry.at)
        if len(chunk) < CHUNK:
            break
    if product.position != position:
        problems.append(f"on hand/average cost {product.position} differ from the replay {position}")
    if _held_stock(product.stocks) != _held_stock(stocks):
        problems.append(f"stock by location {dict(product.stocks)} differs from the replay {stocks}")
    if product.totals != totals:
        problems.append(f"totals {product.totals} differ from the replay {totals}")
    if product.tx_count != count:
        problems.append(f"transaction count {product.tx_count} but {count} rows")
    if product.position.stock < product.reserved:
        problems.append(f"on hand {product.position.stock} below reserved {product.reserved}")
    problems += [f"on hand at {code} {stocks.get(code, 0)} below the {units} reservations hold there"
                 for code, units in product.held.items() if stocks.get(code, 0) < units]  # fmt: skip
    if product.last_key != last_key:
        problems.append(f"last point {product.last_key} but the timeline ends at {last_key}")
    if product.last_counted_at != last_count:
        problems.append("last_counted_at differs from the latest COUNT")
    if product.last_sale_at != last_sale:
        problems.append("last_sale_at differs from the latest SELL")
    return problems, count
