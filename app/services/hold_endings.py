"""Confirms and cancels of reservations, committed together (group commit), as sales and new holds are.

Payment time is the order system's second hot path: each confirm used to commit alone, about twelve
round trips under its product's lock, so a confirm storm ran at 134/s against 1,415 sales/s and the
product's own sales waited behind it (p99 14 s, issue 12). Here a batch takes its products' locks once,
reads its products and its holds in two statements, appends each confirm's sales to its product's end
in memory (the fold's one step, as a sale is appended), and writes the sales, the holds and the
products' figures in a few statements, whatever the batch's size.

Requests are settled in arrival order against the state the earlier ones of the batch left: a second
confirm of a hold confirmed in the batch is answered with the same sale, a cancel after it is refused.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal

import asyncpg

from app.domain.access import ClosedPeriod
from app.domain.commands import CancelHold, ConfirmHold, HoldEnding
from app.domain.errors import Conflict
from app.domain.immutable import immutable
from app.domain.ledger import Entry, Posted
from app.domain.reservations import Status, Verdict, fulfilment, on_cancel, on_confirm
from app.domain.rules import MAIN, LocationKind, TxType
from app.persistence import ledger_rows
from app.persistence import locations as location_repo
from app.persistence import products as product_repo
from app.persistence import reservations as repo
from app.persistence.records import LedgerRow, ProductRecord, ReservationRecord
from app.services import idempotency
from app.services.events import announce
from app.services.group_commit import Queued, release_earlier_answers
from app.services.idempotency import Repeated, first_claim
from app.services.ledger import LedgerService, release_lapsed_holds
from app.services.outcomes import Confirmed
from app.services.recompute import append

Ended = Confirmed | ReservationRecord


async def end_holds(
    conn: asyncpg.Connection, batch: list[Queued[HoldEnding]], product_ids: list[int], ledger: LedgerService,
    now: datetime,
) -> list[Ended | Exception]:  # fmt: skip
    """Under the locks of every product of the batch, in the caller's transaction: each request, in
    order, confirmed or cancelled, answered as it was before (a repeat), or refused."""
    start = await product_repo.batch_start(conn, product_ids, len(batch))
    await release_lapsed_holds(conn, *start.products.values())
    holds = await repo.by_ids(conn, [q.data.reservation_id for q in batch], now)
    owned = await idempotency.claim(conn, [q.key for q in batch if q.key])
    release_earlier_answers()  # read: the fold and the writes are left
    endings = _Endings(conn, ledger, now, start.products, holds, deque(start.seqs),
                       ClosedPeriod(start.closed_through, ledger.zone))  # fmt: skip
    settled: list[Ended | _Sale | _Again | Exception] = []
    for queued in batch:
        if queued.key and not first_claim(queued.key, owned):
            settled.append(Repeated(queued.key))
        elif isinstance(queued.data, CancelHold):
            settled.append(endings.cancel(queued.data))
        else:
            settled.append(await endings.confirm(queued.data))
    await endings.write()
    results = [s.confirmed() if isinstance(s, _Sale) else s.sale.confirmed(earlier=True) if isinstance(s, _Again)
               else s for s in settled]  # fmt: skip
    await idempotency.keep_batch(conn, zip([q.key for q in batch], results, strict=True))
    return results


@dataclass(eq=False)
class _Sale:
    """A confirm of this batch: its hold, and its sales until they are written (then their ids)."""

    held: ReservationRecord
    price: Decimal
    posted: list[Posted]
    record: ReservationRecord | None = None  # the hold as confirmed, once written
    rows: list[LedgerRow] = field(default_factory=list)

    def confirmed(self, *, earlier: bool = False) -> Confirmed:
        assert self.record is not None and self.rows, "a batch's sales are written before it answers"
        return Confirmed(self.record, self.rows[0], tuple(self.rows[1:]), earlier)


@immutable
class _Again:
    """A confirm of a hold an earlier request of this batch confirmed: answered with its sale."""

    sale: _Sale


class _Endings:
    """One batch's state: its products and holds as the requests settled so far left them, and what
    is left to write."""

    def __init__(
        self, conn: asyncpg.Connection, ledger: LedgerService, now: datetime, products: dict[int, ProductRecord],
        holds: dict[int, ReservationRecord], seqs: deque[int], closed: ClosedPeriod,
    ) -> None:  # fmt: skip
        self.conn, self.ledger, self.now, self.closed = conn, ledger, now, closed
        self.products, self.holds, self.seqs = products, holds, seqs
        self.sold: dict[int, _Sale] = {}  # reservation id → its confirm in this batch
        self.cancelled: list[int] = []
        self.unwritten: list[_Sale] = []  # sales placed but not yet inserted
        self.changed: set[int] = set()  # products whose figures moved

    def cancel(self, data: CancelHold) -> ReservationRecord | Conflict:
        held = self.holds[data.reservation_id]
        verdict = on_cancel(held.status)
        if verdict is Verdict.UNCHANGED:
            return held
        if verdict is Verdict.CONFLICT:
            return refused(held, "cancelled")
        self.products[held.product_id] = released(self.products[held.product_id], held)
        cancelled = self.holds[held.id] = held.ended(Status.CANCELLED, self.now, held.unit_price)
        self.cancelled.append(held.id)
        return cancelled

    async def confirm(self, data: ConfirmHold) -> _Sale | _Again | Confirmed | Conflict:
        held = self.holds[data.reservation_id]
        verdict = on_confirm(held.status)
        if verdict is Verdict.UNCHANGED:
            if (sale := self.sold.get(held.id)) is not None:
                return _Again(sale)
            return replace(await confirmed_before(self.conn, held), earlier=True)
        if verdict is Verdict.CONFLICT:
            return refused(held, "confirmed")
        # The hold turns into the sale: it stops counting as reserved (and as held at its location)
        # as the stock leaves.
        product = released(self.products[held.product_id], held)
        try:
            takes = await _takes(self.conn, product, held)
            entries = [Entry(seq, self.now, TxType.SELL, units, data.unit_price, location=code)
                       for seq, (code, units) in zip(await self._seqs(len(takes)), takes, strict=True)]  # fmt: skip
            after, posted = await self._sell(product, entries)
        except Conflict as conflict:
            return conflict
        self.products[held.product_id] = after
        self.changed.add(held.product_id)
        self.holds[held.id] = held.ended(Status.CONFIRMED, self.now, data.unit_price)
        sale = self.sold[held.id] = _Sale(held, data.unit_price, posted)
        self.unwritten.append(sale)
        return sale

    async def _sell(self, product: ProductRecord, entries: list[Entry]) -> tuple[ProductRecord, list[Posted]]:
        """The product after the sales, and the sales placed: appended at its end in memory, as a
        sale is; behind a row dated later (rare: confirms are dated now), by a refold."""
        after, posted = product, []
        for entry in entries:
            if not after.follows(entry.key):
                await self._insert()  # the refold must see the rows placed before it
                rw = await self.ledger.rewrite(self.conn, product, drop=None, places=entries, closed=self.closed)
                return rw.product, list(rw.placed)
            rw = append(after, entry, closed=self.closed, display=self.ledger.display)
            after = rw.product
            posted.append(rw.placed[0])
        return after, posted

    async def _seqs(self, count: int) -> list[int]:
        """Ingestion numbers, in the order asked: a confirm from several locations takes more than
        the one per request the batch read (the sequence's later numbers are larger)."""
        if len(self.seqs) < count:
            self.seqs.extend(await ledger_rows.next_seqs(self.conn, count - len(self.seqs) + 16))
        return [self.seqs.popleft() for _ in range(count)]

    async def _insert(self) -> None:
        """Write the sales placed so far in one statement; each gets its stored id."""
        sales, self.unwritten = self.unwritten, []
        if not sales:
            return
        rows = [(s, p, sale_note(s.held)) for s in sales for p in s.posted]
        ids = await ledger_rows.insert_rows(self.conn, [s.held.product_id for s, _, _ in rows], [p for _, p, _ in rows],
                                            [note for _, _, note in rows])  # fmt: skip
        for sale, posted, note in rows:
            stored = Posted(posted.entry.stored_as(ids[posted.entry.seq]), posted.figures)
            sale.rows.append(LedgerRow(stored, note, sale.held.sku))

    async def write(self) -> None:
        """The batch's changes, in the order the database's `on_hand >= reserved` check needs: what
        holds release before the stock leaves."""
        if self.cancelled:
            await repo.cancel(self.conn, self.cancelled, self.now)
        sales = list(self.sold.values())
        if sales:
            await repo.release_for_sales(self.conn, [s.held for s in sales])
            await self._insert()
            for sale in sales:
                sale.record = self.holds[sale.held.id].became(sale.rows[0].entry.id)
            await repo.mark_confirmed(
                self.conn, [s.held.id for s in sales], self.now, [s.price for s in sales],
                [s.rows[0].entry.id for s in sales],
            )  # fmt: skip
            await product_repo.save_all_figures(self.conn, [self.products[p] for p in sorted(self.changed)])
        ended = {self.holds[i].product_id for i in self.cancelled} | self.changed
        if ended:
            await announce(self.conn, ended)


def refused(held: ReservationRecord, wanted: str) -> Conflict:
    # Named as people know it: the order and its product (the id stays in `extra` for programs).
    return Conflict(f"Order {held.order_ref}'s reservation of {held.sku} is {held.status} and cannot be {wanted}",
                    {"id": held.id, "status": held.status.value})  # fmt: skip


def sale_note(held: ReservationRecord) -> str:
    """The note on each sale a hold's confirm records: it also finds them again (`repo.sales_of`)."""
    return f"reservation {held.id}, order {held.order_ref}"


async def confirmed_before(conn: asyncpg.Connection, held: ReservationRecord) -> Confirmed:
    """A confirmed hold and the sales its confirm recorded, as they stand (a deleted one is left out)."""
    sales = await repo.sales_of(conn, held, sale_note(held))
    first = next((s for s in sales if s.entry.id == held.transaction_id), None)
    return Confirmed(held, first, tuple(s for s in sales if s is not first))


def released(product: ProductRecord, held: ReservationRecord) -> ProductRecord:
    """The product once the hold no longer counts as reserved (or as held at its location)."""
    if held.location is None:
        return product.with_holds(product.reserved - held.quantity, product.held)
    there = product.held.get(held.location, 0) - held.quantity
    rest = {code: units for code, units in product.held.items() if code != held.location}
    return product.with_holds(product.reserved - held.quantity, {**rest, held.location: there} if there else rest)


def stocks_of(product: ProductRecord) -> dict[str, int]:
    """Its stock by location (a product whose ledger never named one keeps what it has in MAIN)."""
    return dict(product.stocks) or {MAIN: product.position.stock}


async def _takes(conn: asyncpg.Connection, product: ProductRecord, held: ReservationRecord) -> list[tuple[str, int]]:
    """Where the sale takes its units: the hold's location (the fold refuses it, naming the
    location, were it short there), or the fulfilment order's locations, each what is free
    there; a 409 when they have less free than the hold (the rest is in transit, say)."""
    if held.location is not None:
        return [(held.location, held.quantity)]
    free = {code: units - product.held.get(code, 0) for code, units in stocks_of(product).items()}
    default = product.default_location
    if free.get(default, 0) >= held.quantity:
        return [(default, held.quantity)]  # the usual case: no look at the other locations
    # Kinds are read in this transaction: another process may have made a location transit.
    kinds = {x.code: x.kind for x in await location_repo.all_locations(conn)}
    storage = [code for code in free if kinds.get(code) is LocationKind.STORAGE]
    plan = fulfilment(held.quantity, default, free, storage)
    if sum(units for _, units in plan) < held.quantity:
        raise _short(product, held, default, free, storage)
    return plan


def _short(
    product: ProductRecord, held: ReservationRecord, default: str, free: dict[str, int], storage: list[str]
) -> Conflict:
    places = {code: max(0, free.get(code, 0)) for code in [default, *sorted(set(storage) - {default})]}
    said = ", ".join(f"{units} at {code}" for code, units in places.items())
    return Conflict(
        f"Cannot confirm reservation {held.id}: its {held.quantity} {product.sku} would be taken from "
        f"the storage locations, and only {sum(places.values())} are free there ({said}). Nothing was changed.",
        {"id": held.id, "sku": product.sku, "requested": held.quantity, "available": sum(places.values()),
         "locations": places},
    )  # fmt: skip
