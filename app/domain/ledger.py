"""The ledger fold: a product's state is a replay of its timeline.

`replay` never mutates its input and returns a breach of the invariant as a
value, so callers (dry runs, previews, commits) decide what to do with it.

Stock is kept per location (SPEC §2 "Stock locations"): the fold carries the stock at every
location the product uses (`Stocks`, by location code) beside the product's total and its one
moving-average cost. Every check is made at the entry's location; the total is their sum.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import NamedTuple

from app.domain.immutable import immutable
from app.domain.money import ZERO_COST, ZERO_MONEY, m, q6_ratio
from app.domain.rules import MAIN, Reason, TxType

TimelineKey = tuple[datetime, int]
Stocks = dict[str, int]  # units on hand by location code; a location not in it holds none


# The per-row values are NamedTuples: immutable like frozen dataclasses, but several
# times cheaper to build, which matters when a refold touches 100,000 rows.


class Entry(NamedTuple):
    """One transaction as the fold sees it: what happened, not what it caused."""

    seq: int
    at: datetime
    type: TxType
    quantity: int
    unit_price: Decimal | None = None
    reason: Reason | None = None
    id: int | None = None
    location: str = MAIN  # where it happens; a TRANSFER's source
    to_location: str | None = None  # a TRANSFER's destination

    @property
    def locations(self) -> tuple[str, ...]:
        """The locations whose stock it moves."""
        return (self.location,) if self.to_location is None else (self.location, self.to_location)

    @property
    def key(self) -> TimelineKey:
        return (self.at, self.seq)

    def stored_as(self, tx_id: int) -> Entry:
        """This entry with the id its row was stored under (`_replace` builds it through a map over the
        fields' names, 3× the cost, and every sale pays it)."""
        return Entry(self.seq, self.at, self.type, self.quantity, self.unit_price, self.reason, tx_id, self.location,
                     self.to_location)  # fmt: skip


class Position(NamedTuple):
    """Stock and moving-average cost at one point of a timeline."""

    stock: int
    average_cost: Decimal


EMPTY = Position(stock=0, average_cost=ZERO_COST)


class Figures(NamedTuple):
    """What one transaction caused; stored on its row."""

    stock_after: int
    average_cost_after: Decimal
    revenue: Decimal = ZERO_MONEY
    cogs: Decimal = ZERO_MONEY
    realized_pl: Decimal = ZERO_MONEY
    write_off: Decimal = ZERO_MONEY
    gain: Decimal = ZERO_MONEY
    location_stock_after: int | None = None  # the stock at its location after it
    to_location_stock_after: int | None = None  # a TRANSFER's: the stock at its destination after it

    @property
    def position(self) -> Position:
        return Position(self.stock_after, self.average_cost_after)


class Posted(NamedTuple):
    entry: Entry
    figures: Figures


@immutable
class Breach:
    """The first point where the stock at a location would go below zero."""

    entry: Entry
    stock_before: int  # at `location`
    stock_would_be: int

    @property
    def location(self) -> str:
        return self.entry.location  # every check is made at the entry's (a TRANSFER's source) location

    def describe(self) -> str:
        e = self.entry
        ident = f"transaction {e.id}" if e.id is not None else "the new transaction"
        return (
            f"{ident} ({e.type} of {e.quantity} at {e.at.isoformat()}) would leave "
            f"stock at {self.stock_would_be} in {self.location}; only {self.stock_before} there at that point"
        )


@immutable
class Replay:
    posted: tuple[Posted, ...]
    end: Position
    stocks: Mapping[str, int] = field(default_factory=dict)  # by location, at the end
    watched: Mapping[str, int] = field(default_factory=dict)  # a refold's: see `refold`


_TIMELINE_ORDER = itemgetter(1, 0)  # (at, seq) of an Entry


def timeline(entries: Iterable[Entry]) -> list[Entry]:
    """Entries in timeline order: by event time, ties broken by ingestion number."""
    return sorted(entries, key=_TIMELINE_ORDER)


def starting_stocks(start: Position, stocks: Mapping[str, int] | None) -> Stocks:
    """A fold's own copy of the stock by location at its start; without one, all of it in MAIN."""
    if stocks is None:
        return {MAIN: start.stock} if start.stock else {}
    return dict(stocks)


def replay(
    entries: Iterable[Entry], start: Position = EMPTY, stocks: Mapping[str, int] | None = None
) -> Replay | Breach:
    """Fold `entries` (any order) from `start` (and its stock by location); stop at the first breach."""
    stock, cost = start
    at = starting_stocks(start, stocks)
    posted: list[Posted] = []
    for entry in timeline(entries):
        outcome = _step(stock, cost, at, entry)
        if isinstance(outcome, Breach):
            return outcome
        posted.append(Posted(entry, outcome))
        stock, cost = outcome[0], outcome[1]
    return Replay(tuple(posted), Position(stock, cost), at)


class Stored(NamedTuple):
    """A row as a refold reads it back: its entry, the position it left when last folded, and the
    stock it left at its location(s)."""

    entry: Entry
    after: Position
    here: int | None = None  # its location_stock_after
    there: int | None = None  # a TRANSFER's to_location_stock_after


class Gone(NamedTuple):
    """A row the change takes out, at its old place: the refold does not fold it, but it tells what
    the stock at its locations was before the change (see `refold`'s `watch`)."""

    entry: Entry
    here: int | None
    there: int | None


@immutable
class Settled:
    """A refold that caught up with the stored rows: no row after `posted` changes."""

    posted: tuple[Posted, ...]


def refold(
    start: Position,
    rows: Sequence[Stored | Entry | Gone],
    horizon: TimelineKey,
    stocks: Mapping[str, int] | None = None,
    watched: Mapping[str, int] | None = None,
) -> Replay | Settled | Breach:
    """Fold rows already in timeline order: stored rows (`Stored`), new ones (`Entry`) and the
    old place of a row taken out (`Gone`), from `start` and its stock by location `stocks`.

    Past `horizon` (the last point the change touched) every entry is as stored, and a row's
    figures depend only on its entry and the position before it (the total, the cost, the stock at
    its locations). So the first stored row past the horizon that leaves the position it left
    before ends the refold: it is the last row whose figures can differ (its money may, e.g. a
    COUNT absorbing a change), and every later row comes out as stored.

    Only the locations a change touches can hold other stock than before. When it touches one,
    its difference shows in the total; when it touches several (a TRANSFER, a row moved between
    locations) the total can match while each is off, so the caller names them in `watched`, with
    the stock the stored timeline had there at `start` (the same as `stocks` at the change's first
    point, since rows before it did not change), and the refold settles only once the stock at each
    is as stored: known from the last stored row there, or a `Gone` row's old figures. A refold in
    parts passes the next part the `watched` its `Replay` ends with.
    """
    stock, cost = start
    at = starting_stocks(start, stocks)
    before = dict(watched) if watched else {}  # the stock the stored timeline had there, so far
    posted: list[Posted] = []
    for row in rows:
        if type(row) is Gone:
            _seen(before, row.entry, row.here, row.there)
            continue
        entry = row if isinstance(row, Entry) else row.entry
        outcome = _step(stock, cost, at, entry)
        if isinstance(outcome, Breach):
            return outcome
        posted.append(Posted(entry, outcome))
        stock, cost = outcome[0], outcome[1]
        if type(row) is Stored:
            if before:
                _seen(before, entry, row.here, row.there)
            if (
                row.after == (stock, cost)
                and (entry.at, entry.seq) > horizon
                and (not before or all(at.get(code, 0) == units for code, units in before.items()))
            ):
                return Settled(tuple(posted))
    return Replay(tuple(posted), Position(stock, cost), at, before)


def _seen(before: dict[str, int], entry: Entry, here: int | None, there: int | None) -> None:
    """What an old row says the stock at its watched locations was after it."""
    if entry.location in before and here is not None:
        before[entry.location] = here
    if entry.to_location in before and there is not None:
        before[entry.to_location] = there


def _step(stock: int, cost: Decimal, at: Stocks, entry: Entry) -> Figures | Breach:
    """The effect of one entry on a position (SPEC §2 table): `stock` is the product's total,
    `at` the stock by location (updated in place when the entry is accepted)."""
    kind, quantity, where = entry.type, entry.quantity, entry.location
    here = at.get(where, 0)
    if kind is TxType.SELL:
        left = here - quantity
        if left < 0:
            return Breach(entry, here, left)
        at[where] = left
        revenue = m(quantity * _price(entry))
        cogs = m(quantity * cost)
        return Figures(stock - quantity, cost, revenue, cogs, revenue - cogs, ZERO_MONEY, ZERO_MONEY, left)
    if kind is TxType.BUY:
        at[where] = here + quantity
        return _receive_at_cost(stock, cost, quantity, _price(entry), here + quantity)
    if kind is TxType.ADJUST:
        return _adjust(stock, cost, at, entry, here)
    if kind is TxType.COUNT:
        at[where] = quantity
        return _count(stock, cost, quantity - here, quantity)
    return _transfer(stock, cost, at, entry, here)


def _price(entry: Entry) -> Decimal:
    if entry.unit_price is None:
        raise ValueError(f"{entry.type} needs a unit price")
    return entry.unit_price


def _receive_at_cost(stock: int, cost: Decimal, quantity: int, unit_cost: Decimal, here_after: int) -> Figures:
    after = stock + quantity
    return Figures(
        after, q6_ratio(stock * cost + quantity * unit_cost, after), ZERO_MONEY, ZERO_MONEY, ZERO_MONEY,
        ZERO_MONEY, ZERO_MONEY, here_after,
    )  # fmt: skip


def _adjust(stock: int, cost: Decimal, at: Stocks, entry: Entry, here: int) -> Figures | Breach:
    quantity = entry.quantity
    left = here + quantity
    if left < 0:
        return Breach(entry, here, left)
    at[entry.location] = left
    if quantity < 0:
        return Figures(stock + quantity, cost, write_off=m(-quantity * cost), location_stock_after=left)
    if entry.unit_price is not None:
        return _receive_at_cost(stock, cost, quantity, entry.unit_price, left)
    return Figures(stock + quantity, cost, gain=m(quantity * cost), location_stock_after=left)


def _count(stock: int, cost: Decimal, difference: int, counted: int) -> Figures:
    """A count of one location: its difference moves the total and is valued at the product's cost."""
    return Figures(
        stock + difference,
        cost,
        write_off=m(-difference * cost) if difference < 0 else ZERO_MONEY,
        gain=m(difference * cost) if difference > 0 else ZERO_MONEY,
        location_stock_after=counted,
    )


def _transfer(stock: int, cost: Decimal, at: Stocks, entry: Entry, here: int) -> Figures | Breach:
    """Units leave one location and arrive at another at the same moment: no cost, no money."""
    left = here - entry.quantity
    if left < 0:
        return Breach(entry, here, left)
    if entry.to_location is None:
        raise ValueError("a TRANSFER needs a to_location")
    arrived = at.get(entry.to_location, 0) + entry.quantity
    at[entry.location], at[entry.to_location] = left, arrived
    return Figures(stock, cost, location_stock_after=left, to_location_stock_after=arrived)
