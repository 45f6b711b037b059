"""The ledger fold: a product's state is a replay of its timeline.

`replay` never mutates its input and returns a breach of the invariant as a
value, so callers (dry runs, previews, commits) decide what to do with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.domain.money import ZERO_COST, ZERO_MONEY, m, q6_ratio
from app.domain.rules import Reason, TxType

TimelineKey = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class Entry:
    """One transaction as the fold sees it: what happened, not what it caused."""

    seq: int
    at: datetime
    type: TxType
    quantity: int
    unit_price: Decimal | None = None
    reason: Reason | None = None
    id: int | None = None

    @property
    def key(self) -> TimelineKey:
        return (self.at, self.seq)


@dataclass(frozen=True, slots=True)
class Position:
    """Stock and moving-average cost at one point of a timeline."""

    stock: int
    average_cost: Decimal


EMPTY = Position(stock=0, average_cost=ZERO_COST)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one transaction caused; stored on its row."""

    stock_after: int
    average_cost_after: Decimal
    revenue: Decimal = ZERO_MONEY
    cogs: Decimal = ZERO_MONEY
    realized_pl: Decimal = ZERO_MONEY
    write_off: Decimal = ZERO_MONEY
    gain: Decimal = ZERO_MONEY

    @property
    def position(self) -> Position:
        return Position(self.stock_after, self.average_cost_after)


@dataclass(frozen=True, slots=True)
class Posted:
    entry: Entry
    figures: Figures


@dataclass(frozen=True, slots=True)
class Breach:
    """The first point where stock would go below zero."""

    entry: Entry
    stock_before: int
    stock_would_be: int

    def describe(self) -> str:
        e = self.entry
        ident = f"transaction {e.id}" if e.id is not None else "the new transaction"
        return (
            f"{ident} ({e.type} of {e.quantity} at {e.at.isoformat()}) would leave "
            f"stock at {self.stock_would_be}; only {self.stock_before} on hand at that point"
        )


@dataclass(frozen=True, slots=True)
class Replay:
    posted: tuple[Posted, ...]
    end: Position


def timeline(entries: Iterable[Entry]) -> list[Entry]:
    """Entries in timeline order: by event time, ties broken by ingestion number."""
    return sorted(entries, key=lambda e: (e.at, e.seq))


def replay(entries: Iterable[Entry], start: Position = EMPTY) -> Replay | Breach:
    """Fold `entries` (any order) from `start`; stop at the first breach."""
    position = start
    posted: list[Posted] = []
    for entry in timeline(entries):
        outcome = apply(position, entry)
        if isinstance(outcome, Breach):
            return outcome
        posted.append(Posted(entry, outcome))
        position = outcome.position
    return Replay(tuple(posted), position)


def apply(position: Position, entry: Entry) -> Figures | Breach:
    """The effect of one entry on a position (SPEC §2 table)."""
    if entry.type is TxType.BUY:
        return _receive_at_cost(position, entry.quantity, _price(entry))
    if entry.type is TxType.SELL:
        return _sell(position, entry)
    if entry.type is TxType.ADJUST:
        return _adjust(position, entry)
    return _count(position, entry.quantity)


def _price(entry: Entry) -> Decimal:
    if entry.unit_price is None:
        raise ValueError(f"{entry.type} needs a unit price")
    return entry.unit_price


def _receive_at_cost(position: Position, quantity: int, unit_cost: Decimal) -> Figures:
    stock = position.stock + quantity
    value = position.stock * position.average_cost + quantity * unit_cost
    return Figures(stock_after=stock, average_cost_after=q6_ratio(value, stock))


def _sell(position: Position, entry: Entry) -> Figures | Breach:
    remaining = position.stock - entry.quantity
    if remaining < 0:
        return Breach(entry, position.stock, remaining)
    revenue = m(entry.quantity * _price(entry))
    cogs = m(entry.quantity * position.average_cost)
    return Figures(
        stock_after=remaining,
        average_cost_after=position.average_cost,
        revenue=revenue,
        cogs=cogs,
        realized_pl=revenue - cogs,
    )


def _adjust(position: Position, entry: Entry) -> Figures | Breach:
    quantity = entry.quantity
    if quantity < 0:
        remaining = position.stock + quantity
        if remaining < 0:
            return Breach(entry, position.stock, remaining)
        return Figures(
            stock_after=remaining,
            average_cost_after=position.average_cost,
            write_off=m(-quantity * position.average_cost),
        )
    if entry.unit_price is not None:
        return _receive_at_cost(position, quantity, entry.unit_price)
    return Figures(
        stock_after=position.stock + quantity,
        average_cost_after=position.average_cost,
        gain=m(quantity * position.average_cost),
    )


def _count(position: Position, counted: int) -> Figures:
    difference = counted - position.stock
    cost = position.average_cost
    return Figures(
        stock_after=counted,
        average_cost_after=cost,
        write_off=m(-difference * cost) if difference < 0 else ZERO_MONEY,
        gain=m(difference * cost) if difference > 0 else ZERO_MONEY,
    )
