"""The ledger service against a model: a Hypothesis state machine drives the services IN-PROCESS on
the real PostgreSQL of the test session (a database of its own, migrated), and after every step
checks every figure against `Model`, a plain re-implementation of SPEC §2 written here (it shares
no code with app/domain/ledger.py's fold).

Rules: BUY/SELL/ADJUST/COUNT recorded at random moments (so most are backdated) at one of three
stock locations, TRANSFERs between them, edits of quantity, price, time and location (a TRANSFER's
destination too), moves of a row to another product (its sku), deletes, reservations, confirms
(from the locations in fulfilment order) and cancels. A change the model says must be refused must
raise a conflict that names the point it would break (a transaction, its location, with the stock
it would leave there; or on hand below reserved), and leave everything exactly as it was. The model
keeps the stock at every location at every point: each row's `location_stock_after` (and a
TRANSFER's `to_location_stock_after`) and each product's stock by location are checked too.

Run with `-s` to see how many steps of each kind ran and how many were refused; the counts are also
Hypothesis events (`--hypothesis-show-statistics`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, TypeVar

import asyncpg
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

pytestmark = pytest.mark.integration
T = TypeVar("T")


# --- the adapter: the only part that knows the services' API -------------------------------------


# stock, cost, revenue … gain, the stock at its location after it, at a TRANSFER's destination after it
Figures = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal, Decimal, int, int | None]
MAIN = "MAIN"
LOCATIONS = (MAIN, "SM-A", "SM-B")  # storage locations (a hold's confirm takes from any of them)


@dataclass(frozen=True)
class SeenRow:
    """A stored transaction as the test compares it."""

    id: int
    seq: int
    at: datetime
    type: str
    quantity: int
    unit_price: Decimal | None
    reason: str | None
    figures: Figures
    location: str = MAIN
    to_location: str | None = None


@dataclass(frozen=True)
class SeenProduct:
    on_hand: int
    reserved: int
    average_cost: Decimal
    totals: tuple[Decimal, Decimal, Decimal, Decimal, Decimal, int, int, int]  # revenue … gain, in, out, damaged
    tx_count: int
    last_counted_at: datetime | None
    last_sale_at: datetime | None
    rows: tuple[SeenRow, ...]  # in timeline order
    stocks: tuple[tuple[str, int], ...] = ()  # units by location, where there are any, by code


@dataclass(frozen=True)
class Outcome:
    """What a change did, or (a dry run) would do: the row as it stands after, and each product's
    figures after (`rows` left empty)."""

    row: SeenRow | None
    products: dict[str, SeenProduct]


class Refused(Exception):
    """A change the app refused as a conflict (HTTP 409); `facts` is what it names."""

    def __init__(self, detail: str, facts: dict[str, Any]) -> None:
        super().__init__(detail)
        self.facts = facts


class App:
    """The ledger, product and reservation services of this checkout, in this process, on one
    database. Everything the machine does goes through here; when a service's constructor or outcome
    types change, this class is what changes."""

    def __init__(self, url: str, clock: Callable[[], datetime]) -> None:
        self.url, self.clock = url, clock

    async def open(self) -> None:
        from app.persistence.database import Database

        self.db = Database(self.url, pool_size=4)
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    def fresh_services(self) -> None:
        """New services (new locks, caches, group commit) for each run of the machine, wired as
        create_app wires them (app/services/wiring.py)."""
        from zoneinfo import ZoneInfo

        from app.services.wiring import build_services
        from app.settings import Settings
        from app.web.views import product_view

        # As the test server does (INVENTORY_REFOLD_CHUNK=3): every refold crosses chunk boundaries.
        # The business day in UTC (the adapter used UTC before it was wired like the app), default formats.
        configured = replace(Settings.from_env(), timezone=ZoneInfo("UTC"), locale="en_US", currency=None,
                             refold_chunk=3)  # fmt: skip
        self.services = build_services(self.db, configured, self.clock, view=product_view)
        self.ledger, self.reservations = self.services.ledger, self.services.reservations
        self.products = self.services.products

    async def _refusals(self, work: Awaitable[T]) -> T:
        from app.domain.errors import Conflict

        try:
            outcome = await work
        except Conflict as conflict:
            raise Refused(conflict.detail, conflict.extra) from conflict
        if type(outcome).__name__ == "Refused":  # outcomes as values (app/services/outcomes.py)
            raise Refused(outcome.detail, outcome.extra)  # type: ignore[attr-defined]
        return outcome

    async def close_books(self, through: date | None) -> None:
        await self.services.accounts.set_books_closed_through(through, actor="state-machine")

    async def create_product(self, sku: str) -> None:
        await self.products.create({"sku": sku, "name": f"Machine {sku}"})

    async def create_location(self, code: str) -> None:
        """A storage location (kept from an earlier run of the machine: the database is the module's)."""
        from app.domain.errors import Conflict

        try:
            await self.ledger.locations.create({"code": code, "name": f"Machine {code}"})
        except Conflict:
            pass

    async def record(self, fields: dict[str, Any], *, dry_run: bool = False) -> Outcome:
        return _outcome(await self._refusals(self.ledger.record(self.ledger.parse(fields), dry_run=dry_run)))

    async def edit(self, tx_id: int, patch: dict[str, Any], *, dry_run: bool = False) -> Outcome:
        return _outcome(await self._refusals(self.ledger.edit(tx_id, patch, actor="state-machine", dry_run=dry_run)))

    async def delete(self, tx_id: int, *, dry_run: bool = False) -> Outcome:
        return _outcome(await self._refusals(self.ledger.delete(tx_id, actor="state-machine", dry_run=dry_run)))

    async def reserve(self, sku: str, quantity: int, order_ref: str) -> int:
        from app.domain.commands import ReservationInput

        held = await self._refusals(self.reservations.reserve(ReservationInput(sku, quantity, order_ref, 3600)))
        return int(held.reservation.id)

    async def confirm(self, reservation_id: int, price: Decimal) -> list[SeenRow]:
        """The sales a confirm recorded (one per location it took from)."""
        done = await self._refusals(self.reservations.confirm(reservation_id, price))
        return [_seen_row(sale) for sale in done.sales]

    async def cancel(self, reservation_id: int) -> None:
        await self._refusals(self.reservations.cancel(reservation_id))

    async def product(self, sku: str) -> SeenProduct:
        p = await self.products.get(sku)
        return _seen_product(p, tuple(_seen_row(r) for r in await self.ledger.timeline(p, 100_000, 0)))

    async def reservation_states(self, sku: str) -> dict[int, tuple[int, str]]:
        return {r.id: (r.quantity, str(r.status)) for r in await self.reservations.listing(sku, None)}

    async def everything(self, skus: list[str]) -> Any:
        """All the app keeps about these products, as it reads it: a refused change must not move it."""
        out = []
        for sku in skus:
            p = await self.products.get(sku)
            out.append((p, await self.ledger.timeline(p, 100_000, 0), await self.reservations.listing(sku, None)))
        return out


def _outcome(change: Any) -> Outcome:
    """A ledger service's Change (app/services/outcomes.py)."""
    return Outcome(
        None if change.row is None else _seen_row(change.row),
        {c.after.sku: _seen_product(c.after, ()) for c in change.products},
    )


def _seen_product(p: Any, rows: tuple[SeenRow, ...]) -> SeenProduct:
    t = p.totals
    return SeenProduct(
        p.position.stock, p.reserved, p.position.average_cost,
        (t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain, t.units_in, t.units_out, t.damaged),
        p.tx_count, p.last_counted_at, p.last_sale_at, rows,
        tuple(sorted((code, units) for code, units in p.stocks.items() if units)),
    )  # fmt: skip


def _seen_row(row: Any) -> SeenRow:
    e, f = row.entry, row.figures
    return SeenRow(
        e.id, e.seq, e.at, str(e.type), e.quantity, e.unit_price, None if e.reason is None else str(e.reason),
        (f.stock_after, f.average_cost_after, f.revenue, f.cogs, f.realized_pl, f.write_off, f.gain,
         f.location_stock_after, f.to_location_stock_after),
        e.location, e.to_location,
    )  # fmt: skip


# --- the model: SPEC §2 written out plainly ------------------------------------------------------

CENTS = Decimal("0.01")
ZERO = Decimal("0")


def money(value: Decimal | Fraction) -> Decimal:
    """`m`: half-even to cents."""
    if isinstance(value, Fraction):
        value = Decimal(round(value * 100)) / 100  # round() on a Fraction is half-even
    return value.quantize(CENTS, ROUND_HALF_EVEN)


def cost6(value: Fraction) -> Decimal:
    """`q6`: half-even to six places, of an exact ratio."""
    return Decimal(round(value * 10**6)).scaleb(-6)


@dataclass
class Tx:
    id: int
    seq: int
    at: datetime
    type: str
    quantity: int
    unit_price: Decimal | None
    reason: str | None
    location: str = MAIN
    to_location: str | None = None  # a TRANSFER's destination


@dataclass(frozen=True)
class Break:
    """The first transaction (in time) whose stock at its location (a TRANSFER's source) would go
    below zero; the stock there before it and what it would leave there."""

    tx: Tx
    stock_before: int
    would_be: int


@dataclass(frozen=True)
class Short:
    """On hand would end below what is reserved."""

    on_hand: int
    reserved: int


def fold(txs: list[Tx]) -> list[tuple[Tx, Figures]] | Break:
    """Each transaction in timeline order (at, then seq) with the figures it stores, or the first break.
    The stock is kept by location: what leaves a location must be there; the total is their sum and
    the cost is the product's, across locations."""
    at: dict[str, int] = {}  # units by location
    cost = ZERO
    out = []
    for tx in sorted(txs, key=lambda t: (t.at, t.seq)):
        q, p, where = tx.quantity, tx.unit_price, tx.location
        here = at.get(where, 0)
        stock = sum(at.values())
        revenue = cogs = pl = write_off = gain = ZERO
        there = None
        if tx.type == "BUY" or (tx.type == "ADJUST" and q > 0 and p is not None):
            assert p is not None
            cost = cost6((stock * Fraction(cost) + q * Fraction(p)) / (stock + q))
            at[where] = here + q
        elif tx.type == "SELL":
            assert p is not None
            if q > here:
                return Break(tx, here, here - q)
            revenue, cogs = money(q * p), money(q * cost)
            pl = revenue - cogs
            at[where] = here - q
        elif tx.type == "ADJUST" and q < 0:
            if -q > here:
                return Break(tx, here, here + q)
            write_off = money(-q * cost)
            at[where] = here + q
        elif tx.type == "ADJUST":
            gain = money(q * cost)
            at[where] = here + q
        elif tx.type == "TRANSFER":
            assert tx.to_location is not None and tx.to_location != where
            if q > here:
                return Break(tx, here, here - q)
            at[where] = here - q
            at[tx.to_location] = there = at.get(tx.to_location, 0) + q
        else:  # COUNT, of one location
            difference = q - here
            write_off, gain = (money(-difference * cost), ZERO) if difference < 0 else (ZERO, money(difference * cost))
            at[where] = q
        figures = (sum(at.values()), cost, money(revenue), money(cogs), money(pl), money(write_off), money(gain),
                   at[where], there)  # fmt: skip
        out.append((tx, figures))
    return out


def stocks_after(folded: list[tuple[Tx, Figures]]) -> tuple[tuple[str, int], ...]:
    """Units by location at the end of a folded timeline, where there are any, by code."""
    at: dict[str, int] = {}
    for tx, figures in folded:
        at[tx.location] = figures[7]
        if tx.to_location is not None:
            assert figures[8] is not None
            at[tx.to_location] = figures[8]
    return tuple(sorted((code, units) for code, units in at.items() if units))


@dataclass(frozen=True)
class Closed:
    """The books are closed through this day: nothing dated on or before it may change."""

    through: date


@dataclass
class Model:
    txs: dict[int, tuple[str, Tx]] = field(default_factory=dict)  # id → (sku, transaction)
    holds: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # id → (sku, quantity, status)
    closed_through: date | None = None

    def closed(self, moments: list[datetime]) -> Closed | None:
        """Whether a change touching these moments (a row's time before and after) falls in the closed period."""
        through = self.closed_through
        return Closed(through) if through and any(m.date() <= through for m in moments) else None

    def of(self, sku: str) -> list[Tx]:
        return [tx for s, tx in self.txs.values() if s == sku]

    def reserved(self, sku: str) -> int:
        return sum(q for s, q, status in self.holds.values() if s == sku and status == "active")

    def problem(self, sku: str, txs: list[Tx]) -> Break | Short | None:
        """Why this timeline may not stand for this product, if it may not."""
        folded = fold(txs)
        if isinstance(folded, Break):
            return folded
        on_hand = folded[-1][1][0] if folded else 0
        return Short(on_hand, self.reserved(sku)) if on_hand < self.reserved(sku) else None

    def expected(self, sku: str, txs: list[Tx] | None = None) -> SeenProduct:
        """The product as the model has it, or as it would be with these transactions."""
        folded = fold(self.of(sku) if txs is None else txs)
        assert not isinstance(folded, Break), "the model only ever holds valid timelines"
        rows = tuple(
            SeenRow(
                tx.id,
                tx.seq,
                tx.at,
                tx.type,
                tx.quantity,
                tx.unit_price,
                tx.reason,
                figures,
                tx.location,
                tx.to_location,
            )  # fmt: skip
            for tx, figures in folded
        )
        sums = [sum((f[i] for _, f in folded), ZERO) for i in range(2, 7)]
        units_in = sum(tx.quantity for tx, _ in folded if tx.type == "BUY" or (tx.type == "ADJUST" and tx.quantity > 0))
        units_out = sum(tx.quantity for tx, _ in folded if tx.type == "SELL")
        # Units that left through damage: a positive ADJUST that says "damage" (an edit can make one) adds none.
        damaged = sum(-t.quantity for t, _ in folded if t.type == "ADJUST" and t.reason == "damage" and t.quantity < 0)
        counts = [tx.at for tx, _ in folded if tx.type == "COUNT"]
        sales = [tx.at for tx, _ in folded if tx.type == "SELL"]
        return SeenProduct(
            folded[-1][1][0] if folded else 0, self.reserved(sku), folded[-1][1][1] if folded else ZERO,
            (*sums, units_in, units_out, damaged), len(folded),  # type: ignore[arg-type]
            max(counts, default=None), max(sales, default=None), rows, stocks_after(folded),
        )  # fmt: skip


# --- the machine ---------------------------------------------------------------------------------

NOW = datetime.now(UTC).replace(microsecond=0)  # the services' clock: it never moves
START = NOW - timedelta(days=2)  # every recorded moment lies in the 2 days before it (minute steps)
MINUTES = st.integers(0, 2 * 24 * 60 - 1)
# Any price of up to 4 places, and prices of half a cent (0.005, 1.235, …) so that money lands on
# exact halves, where half-even and half-up rounding part.
PRICES = st.decimals(min_value=0, max_value=Decimal("80"), places=4) | st.integers(0, 8000).map(
    lambda n: Decimal(n * 10 + 5).scaleb(-3)
)
STEPS: Counter[str] = Counter()  # what the runs did, printed by the test (-s)


def moment(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def seen(kind: str) -> None:
    STEPS[kind] += 1
    event(kind)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self, app: App, run: Callable[[Awaitable[Any]], Any]) -> None:
        super().__init__()
        self.app, self.run = app, run
        self.model = Model()
        self.skus: list[str] = []
        app.fresh_services()

    @initialize()
    def products(self) -> None:
        tag = uuid.uuid4().hex[:8]
        self.skus = [f"SM-{tag}-{n}" for n in range(3)]
        for sku in self.skus:
            self.run(self.app.create_product(sku))
        for code in LOCATIONS[1:]:
            self.run(self.app.create_location(code))
        self.run(self.app.close_books(None))  # the setting is the database's: an earlier run may have left one

    @precondition(lambda self: self.model.txs and self.model.closed_through is None)
    @rule(days=st.sampled_from([0, 1]))
    def close_books(self, days: int) -> None:
        """Close the books through the first or the second of the two days."""
        self.model.closed_through = START.date() + timedelta(days=days)
        self.run(self.app.close_books(self.model.closed_through))
        seen("books closed")

    @precondition(lambda self: self.model.closed_through is not None)
    @rule()
    def open_books(self) -> None:
        self.model.closed_through = None
        self.run(self.app.close_books(None))
        seen("books opened")

    # -- helpers --

    def pick_tx(self, pick: int) -> tuple[str, Tx]:
        ids = sorted(self.model.txs)
        return self.model.txs[ids[pick % len(ids)]]

    def attempt(
        self, what: str, change: Awaitable[T], problems: list[Break | Short | Closed], *, dry: bool = False
    ) -> T | None:
        """Run a change the model expects to stand (no problems) or to be refused (one of them).
        A refused change, and a dry run whatever its answer, must leave everything as it was."""
        before = self.run(self.app.everything(self.skus)) if problems or dry else None
        try:
            result = self.run(change)
        except Refused as refused:
            assert problems, f"{what}: refused, but the model allows it: {refused}"
            assert any(names(p, refused.facts) for p in problems), (
                f"{what}: refused as {refused.facts}, expected one of {problems}"
            )
            assert self.run(self.app.everything(self.skus)) == before, f"{what}: a refused change changed something"
            seen(f"{what} refused")
            return None
        assert not problems, f"{what}: accepted, but the model refuses it: {problems}"
        if dry:
            assert self.run(self.app.everything(self.skus)) == before, f"{what}: a dry run changed something"
        seen(what)
        return result

    def ledger_change(
        self, what: str, work: Callable[[bool], Awaitable[Outcome]], after: dict[str, list[Tx]], dry: bool,
        changed: Tx | None, touched: list[datetime],
    ) -> Outcome | None:  # fmt: skip
        """A record, edit or delete (or its dry run), checked against the model's timelines `after`
        it: refused when it touches the closed period or one of them may not stand; else its answer
        (the row `changed` and every product's figures) is what the model says, and (unless a dry
        run) what then stands."""
        problems: list[Break | Short | Closed] = [
            p for sku, txs in after.items() if (p := self.model.problem(sku, txs))
        ]
        if closed := self.model.closed(touched):
            problems.append(closed)
        outcome = self.attempt(f"{what} (dry run)" if dry else what, work(dry), problems, dry=dry)
        if outcome is None:
            return None
        for sku, txs in after.items():
            want = self.model.expected(sku, txs)
            assert outcome.products[sku] == replace(want, rows=()), f"{what}: {sku} would be\n{want}"
            for row in [r for r in want.rows if changed is not None and r.seq == changed.seq]:
                assert outcome.row is not None and outcome.row.figures == row.figures, f"{what}: {outcome.row}"
        return None if dry else outcome

    # -- rules --

    @rule(
        product=st.integers(0, 2),
        kind=st.sampled_from(["BUY", "SELL", "ADJUST", "COUNT"]),
        quantity=st.integers(1, 12),
        sign=st.booleans(),
        price=PRICES,
        priced=st.booleans(),
        minutes=MINUTES,
        where=st.integers(0, 4),
    )
    def record(self, product: int, kind: str, quantity: int, sign: bool, price: Decimal, priced: bool,
               minutes: int, where: int = 0, dry: bool = False) -> None:  # fmt: skip
        sku, at = self.skus[product], moment(minutes)
        location = LOCATIONS[where % len(LOCATIONS)]  # MAIN more often than the others
        fields: dict[str, Any] = {"sku": sku, "type": kind, "at": at.isoformat()}
        if location != MAIN or where == 3:  # MAIN named (3) or left to the product's default (0)
            fields["location"] = location
        reason = None
        if kind == "ADJUST":
            quantity = quantity if sign else -quantity
            reason = ("found" if priced else "return") if quantity > 0 else ("damage" if priced else "loss")
            fields["reason"] = reason
            if quantity > 0 and priced:
                fields["unit_price"] = str(price)
        elif kind == "COUNT":
            quantity = quantity - 1 if sign else quantity * 2  # zero included
        elif kind == "SELL":
            quantity = 1 + quantity % 4
            fields["unit_price"] = str(price)
        else:
            fields["unit_price"] = str(price)
        fields["quantity"] = quantity
        unit_price = Decimal(fields["unit_price"]) if "unit_price" in fields else None
        newest = max((tx.seq for _, tx in self.model.txs.values()), default=0) + 1  # it lands after equal times
        new = Tx(0, newest, at, kind, quantity, unit_price, reason, location)
        self.record_new(sku, fields, new, dry)

    def record_new(self, sku: str, fields: dict[str, Any], new: Tx, dry: bool) -> None:
        after = {sku: [*self.model.of(sku), new]}
        where = "" if new.location == MAIN and new.to_location is None else " elsewhere"
        done = self.ledger_change(
            f"record {new.type}{where}", lambda dry_run: self.app.record(fields, dry_run=dry_run), after, dry, new,
            [new.at],
        )  # fmt: skip
        if done is not None:
            made = done.row
            assert made is not None
            assert (made.type, made.quantity, made.unit_price, made.at) == (new.type, new.quantity, new.unit_price,
                                                                            new.at)  # fmt: skip
            assert (made.location, made.to_location) == (new.location, new.to_location)
            assert made.seq >= new.seq, "ingestion numbers only grow"
            self.model.txs[made.id] = (sku, replace(new, id=made.id, seq=made.seq))

    @rule(
        product=st.integers(0, 2),
        kind=st.sampled_from(["BUY", "SELL", "ADJUST", "COUNT"]),
        quantity=st.integers(1, 12),
        sign=st.booleans(),
        price=PRICES,
        priced=st.booleans(),
        minutes=MINUTES,
        where=st.integers(0, 4),
    )
    def record_dry_run(self, product: int, kind: str, quantity: int, sign: bool, price: Decimal, priced: bool,
                       minutes: int, where: int) -> None:  # fmt: skip
        """What recording it would do, and nothing done."""
        self.record(product, kind, quantity, sign, price, priced, minutes, where, dry=True)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), step=st.integers(1, 2), quantity=st.integers(1, 12),
          minutes=MINUTES | st.integers(36 * 60, 2 * 24 * 60 - 1), dry=st.booleans())  # fmt: skip
    def transfer(self, pick: int, step: int, quantity: int, minutes: int, dry: bool) -> None:
        """Units moved from one location to another (goods in transit are two of these): from a
        place that holds some at the end, mostly no more than it holds, so that the ones refused are
        refused at a past point."""
        held = [(sku, code, units) for sku in self.skus for code, units in self.model.expected(sku).stocks]
        sku, source_code, there = held[pick % len(held)] if held else (self.skus[pick % 3], MAIN, 0)
        at = moment(minutes)
        to = LOCATIONS[(LOCATIONS.index(source_code) + step) % len(LOCATIONS)]
        quantity = 1 + (quantity - 1) % there if there and quantity < 12 else quantity
        fields: dict[str, Any] = {"sku": sku, "type": "TRANSFER", "quantity": quantity, "at": at.isoformat(),
                                  "to_location": to}  # fmt: skip
        if source_code != MAIN or quantity % 2:
            fields["location"] = source_code
        newest = max((tx.seq for _, tx in self.model.txs.values()), default=0) + 1
        self.record_new(sku, fields, Tx(0, newest, at, "TRANSFER", quantity, None, None, source_code, to), dry)

    @rule(product=st.integers(0, 2), quantity=st.integers(5, 40), price=PRICES, minutes=st.integers(0, 12 * 60),
          where=st.integers(0, 4))  # fmt: skip
    def restock(self, product: int, quantity: int, price: Decimal, minutes: int, where: int) -> None:
        """A larger BUY in the first hours, so that sales, holds and negative edits have stock to work on."""
        self.record(product, "BUY", quantity, True, price, True, minutes, where)

    @precondition(lambda self: self.model.txs)
    @rule(product=st.integers(0, 2), quantity=st.integers(0, 3), price=PRICES, minutes=MINUTES, where=st.integers(0, 4))
    def sell(self, product: int, quantity: int, price: Decimal, minutes: int, where: int) -> None:
        """Sales, the commonest transaction, at any moment of the two days."""
        self.record(product, "SELL", quantity, True, price, True, minutes, where)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), quantity=st.integers(1, 15), flip=st.booleans(), dry=st.booleans())
    def edit_quantity(self, pick: int, quantity: int, flip: bool, dry: bool) -> None:
        sku, tx = self.pick_tx(pick)
        if tx.type == "ADJUST":
            adds = tx.quantity > 0 if tx.unit_price is not None or not flip else tx.quantity < 0
            quantity = quantity if adds else -quantity  # a priced ADJUST keeps adding stock
        elif tx.type == "COUNT":
            quantity -= 1
        self.edit(sku, tx, {"quantity": quantity}, dry, quantity=quantity)

    @precondition(lambda self: any(tx.unit_price is not None for _, tx in self.model.txs.values()))
    @rule(pick=st.integers(0, 10**6), price=PRICES, dry=st.booleans())
    def edit_price(self, pick: int, price: Decimal, dry: bool) -> None:
        priced = sorted(i for i, (_, tx) in self.model.txs.items() if tx.unit_price is not None)
        sku, tx = self.model.txs[priced[pick % len(priced)]]
        self.edit(sku, tx, {"unit_price": str(price)}, dry, unit_price=price)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), minutes=MINUTES, dry=st.booleans())
    def edit_time(self, pick: int, minutes: int, dry: bool) -> None:
        sku, tx = self.pick_tx(pick)
        self.edit(sku, tx, {"at": moment(minutes).isoformat()}, dry, at=moment(minutes))

    @precondition(lambda self: any(tx.type in ("BUY", "SELL") for _, tx in self.model.txs.values()))
    @rule(pick=st.integers(0, 10**6), count=st.booleans(), dry=st.booleans())
    def edit_type(self, pick: int, count: bool, dry: bool) -> None:
        """A BUY entered as a SELL or the other way round (the price stays), or either made a COUNT of
        its quantity (the price goes)."""
        trades = sorted(i for i, (_, tx) in self.model.txs.items() if tx.type in ("BUY", "SELL"))
        sku, tx = self.model.txs[trades[pick % len(trades)]]
        kind = "COUNT" if count else "SELL" if tx.type == "BUY" else "BUY"
        self.edit(sku, tx, {"type": kind}, dry, type=kind, unit_price=None if count else tx.unit_price)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), step=st.integers(1, 2), destination=st.booleans(), dry=st.booleans())
    def edit_location(self, pick: int, step: int, destination: bool, dry: bool) -> None:
        """A row put at another location (both are rechecked); a TRANSFER's source or destination."""
        sku, tx = self.pick_tx(pick)
        if tx.to_location is not None and destination:
            to = next(c for c in LOCATIONS[step:] + LOCATIONS if c not in (tx.location, tx.to_location))
            self.edit(sku, tx, {"to_location": to}, dry, to_location=to)
            return
        where = LOCATIONS[(LOCATIONS.index(tx.location) + step) % len(LOCATIONS)]
        if where == tx.to_location:
            where = next(c for c in LOCATIONS if c not in (tx.location, tx.to_location))
        self.edit(sku, tx, {"location": where}, dry, location=where)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), to=st.integers(1, 2), dry=st.booleans())
    def move(self, pick: int, to: int, dry: bool) -> None:
        sku, tx = self.pick_tx(pick)
        other = self.skus[(self.skus.index(sku) + to) % len(self.skus)]
        self.edit(sku, tx, {"sku": other}, dry, to_sku=other)

    def edit(self, sku: str, tx: Tx, patch: dict[str, Any], dry: bool, *, to_sku: str | None = None,
             **changes: Any) -> None:  # fmt: skip
        new_sku = to_sku or sku
        edited = Tx(**{**tx.__dict__, **changes})
        rest = [t for t in self.model.of(sku) if t.id != tx.id]
        # A move: the product it leaves, then the one it joins (either may be the one a refusal names).
        after = {sku: [*rest, edited]} if new_sku == sku else {sku: rest, new_sku: [*self.model.of(new_sku), edited]}
        what = f"edit {next(iter(patch))} of {tx.type}" if new_sku == sku else f"move {tx.type}"
        what += "" if tx.location == edited.location == MAIN and tx.to_location is None else " elsewhere"
        done = self.ledger_change(
            what, lambda dry_run: self.app.edit(tx.id, patch, dry_run=dry_run), after, dry, edited, [tx.at, edited.at]
        )
        if done is not None:
            assert done.row is not None and (done.row.id, done.row.seq) == (tx.id, tx.seq), "an edit keeps id and seq"
            self.model.txs[tx.id] = (new_sku, edited)

    @precondition(lambda self: self.model.txs)
    @rule(pick=st.integers(0, 10**6), dry=st.booleans())
    def delete(self, pick: int, dry: bool) -> None:
        sku, tx = self.pick_tx(pick)
        after = {sku: [t for t in self.model.of(sku) if t.id != tx.id]}
        done = self.ledger_change(f"delete {tx.type}", lambda dry_run: self.app.delete(tx.id, dry_run=dry_run), after,
                                  dry, None, [tx.at])  # fmt: skip
        if done is not None:
            assert done.row is None
            del self.model.txs[tx.id]

    @precondition(lambda self: self.model.txs)
    @rule(product=st.integers(0, 2), quantity=st.integers(1, 5))
    def reserve(self, product: int, quantity: int) -> None:
        sku = self.skus[product]
        on_hand, reserved = self.model.expected(sku).on_hand, self.model.reserved(sku)
        problem = Short(on_hand, reserved) if quantity > on_hand - reserved else None
        held = self.attempt("reserve", self.app.reserve(sku, quantity, f"order-{uuid.uuid4().hex[:8]}"),
                            [problem] if problem else [])  # fmt: skip
        if held is not None:
            self.model.holds[held] = (sku, quantity, "active")

    @precondition(lambda self: self.model.holds)
    @rule(pick=st.integers(0, 10**6), price=PRICES)
    def confirm(self, pick: int, price: Decimal) -> None:
        held_id = sorted(self.model.holds)[pick % len(self.model.holds)]
        sku, quantity, status = self.model.holds[held_id]
        if status == "cancelled":
            self.attempt("confirm (cancelled)", self.app.confirm(held_id, price), [Short(-1, -1)])
            return
        plan = self.fulfilment(sku, quantity) if status == "active" else []
        sales = self.attempt(f"confirm ({status})", self.app.confirm(held_id, price), [])
        if status == "active":
            assert sales is not None and [(x.type, x.at) for x in sales] == [("SELL", NOW)] * len(sales)
            assert [(x.location, x.quantity) for x in sales] == plan, f"confirm took {sales}, not {plan}"
            seen("confirm split" if len(plan) > 1 else "confirm elsewhere" if plan[0][0] != MAIN else "confirm")
            self.model.holds[held_id] = (sku, quantity, "confirmed")
            for sale in sales:
                self.model.txs[sale.id] = (sku, Tx(sale.id, sale.seq, NOW, "SELL", sale.quantity, price, None,
                                                   sale.location))  # fmt: skip

    def fulfilment(self, sku: str, quantity: int) -> list[tuple[str, int]]:
        """Where a hold naming no location takes its units (SPEC §2): the default location (MAIN)
        first, then the other storage locations in code order, what each has at the end."""
        stocks, plan, left = dict(self.model.expected(sku).stocks), [], quantity
        for code in [MAIN, *sorted(set(LOCATIONS) - {MAIN})]:
            take = min(left, stocks.get(code, 0))
            if take:
                plan.append((code, take))
                left -= take
        assert not left, "the model holds no more than is on hand"
        return plan

    @precondition(lambda self: self.model.holds)
    @rule(pick=st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        held_id = sorted(self.model.holds)[pick % len(self.model.holds)]
        sku, quantity, status = self.model.holds[held_id]
        if status == "confirmed":
            self.attempt("cancel (confirmed)", self.app.cancel(held_id), [Short(-1, -1)])
            return
        self.attempt(f"cancel ({status})", self.app.cancel(held_id), [])
        self.model.holds[held_id] = (sku, quantity, "cancelled")

    # -- after every step --

    @invariant()
    def every_figure_is_the_models(self) -> None:
        for sku in self.skus:
            got, want = self.run(self.app.product(sku)), self.model.expected(sku)
            for mine, theirs in zip(got.rows, want.rows, strict=False):
                assert mine == theirs, f"{sku}: row {mine.id} is\n{mine}\nbut the model says\n{theirs}"
            assert got == want, f"{sku}: the app has\n{got}\nbut the model says\n{want}"
            assert got.on_hand - got.reserved >= 0  # available
            holds = {i: (q, status) for i, (s, q, status) in self.model.holds.items() if s == sku}
            assert self.run(self.app.reservation_states(sku)) == holds


def names(problem: Break | Short | Closed, facts: dict[str, Any]) -> bool:
    """Whether a refusal names this problem: the breaking transaction and the stock it would leave,
    on hand against reserved (a hold refused; `Short(-1, -1)`: a state conflict, any refusal), or
    the closed period."""
    if isinstance(problem, Closed):
        return bool(facts.get("books_closed_through") == problem.through.isoformat())
    if isinstance(problem, Break):
        tx = problem.tx
        return (
            facts.get("transaction_id") == (tx.id or None)
            and facts.get("location") == tx.location
            and facts.get("type") == tx.type
            and facts.get("quantity") == tx.quantity
            and datetime.fromisoformat(facts["at"]) == tx.at
            and (facts.get("stock_before"), facts.get("stock_after")) == (problem.stock_before, problem.would_be)
            and (tx.id == 0 or facts.get("seq") == tx.seq)
        )
    if problem == Short(-1, -1):
        return True
    if "available" in facts:  # a hold refused: more than on hand less reserved
        return bool(facts["available"] == problem.on_hand - problem.reserved)
    return (facts.get("on_hand"), facts.get("reserved")) == (problem.on_hand, problem.reserved)


# --- the test ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def machine_database(database_url: str) -> Iterator[str]:
    """A database of its own in the session's cluster, migrated."""
    from app.persistence.migrations import migrate

    name = f"machine_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        admin = await asyncpg.connect(database_url)
        try:
            await admin.execute(f"CREATE DATABASE {name}")
        finally:
            await admin.close()

    asyncio.run(create())
    url = database_url.replace("/postgres?", f"/{name}?")
    asyncio.run(migrate(url))
    yield url


def test_the_ledger_agrees_with_a_plain_model_after_every_step(machine_database: str) -> None:
    loop = asyncio.new_event_loop()
    app = App(machine_database, clock=lambda: NOW)
    STEPS.clear()
    try:
        loop.run_until_complete(app.open())
        run_state_machine_as_test(
            lambda: LedgerMachine(app, loop.run_until_complete),
            settings=settings(
                max_examples=16, stateful_step_count=35, deadline=None, report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )  # fmt: skip
    finally:
        loop.run_until_complete(app.close())
        loop.close()
    refused = sum(n for kind, n in STEPS.items() if kind.endswith("refused"))
    print(f"\nstate machine: {sum(STEPS.values())} steps checked, {refused} of them refused changes:")
    for kind, n in sorted(STEPS.items()):
        print(f"  {n:5d}  {kind}")


def test_a_settled_refold_keeps_listing_every_location_the_ledger_uses(machine_database: str) -> None:
    """A COUNT of 0 at an empty MAIN moved to a location the product never used: the refold settles
    at once (MAIN and the new place both hold 0, as stored), and the product's `stocks` must still
    list the new place: it lists every location its ledger uses (locations' product lists read it)."""
    loop = asyncio.new_event_loop()
    app = App(machine_database, clock=lambda: NOW)

    async def scenario() -> tuple[str, dict[str, int]]:
        await app.open()
        try:
            app.fresh_services()
            await app.close_books(None)  # the machine's runs may have left the books closed
            sku, place = f"SM-SETTLE-{uuid.uuid4().hex[:6]}", f"SM-N{uuid.uuid4().hex[:6]}"
            await app.create_product(sku)
            await app.create_location(place)
            rows = [
                {"type": "BUY", "quantity": 5, "unit_price": "2"},
                {"type": "SELL", "quantity": 5, "unit_price": "3"},
                {"type": "COUNT", "quantity": 0},
                {"type": "BUY", "quantity": 2, "unit_price": "2"},
            ]
            made = [
                await app.record({"sku": sku, "at": moment(60 * n).isoformat(), **row}) for n, row in enumerate(rows)
            ]
            tx_id = made[2].row.id if made[2].row else 0
            await app.edit(tx_id, {"location": place})
            product = await app.products.get(sku)
            assert product.position.stock == 2
            return place, dict(product.stocks)
        finally:
            await app.close()

    try:
        place, stocks = loop.run_until_complete(scenario())
    finally:
        loop.close()
    assert stocks == {MAIN: 2, place: 0}
