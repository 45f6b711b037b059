"""A product's running totals, kept in step with its rows by adding and removing them."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from app.domain.immutable import immutable
from app.domain.ledger import Posted
from app.domain.money import ZERO_MONEY, m
from app.domain.rules import Reason, TxType


@immutable
class Totals:
    revenue: Decimal = ZERO_MONEY
    cogs: Decimal = ZERO_MONEY
    realized_pl: Decimal = ZERO_MONEY
    write_off: Decimal = ZERO_MONEY
    gain: Decimal = ZERO_MONEY
    units_in: int = 0
    units_out: int = 0
    damaged: int = 0

    def __add__(self, other: Totals) -> Totals:
        return self._combined(other, 1)

    def __sub__(self, other: Totals) -> Totals:
        return self._combined(other, -1)

    def _combined(self, other: Totals, sign: int) -> Totals:
        return Totals(
            self.revenue + sign * other.revenue,
            self.cogs + sign * other.cogs,
            self.realized_pl + sign * other.realized_pl,
            self.write_off + sign * other.write_off,
            self.gain + sign * other.gain,
            self.units_in + sign * other.units_in,
            self.units_out + sign * other.units_out,
            self.damaged + sign * other.damaged,
        )


NO_TOTALS = Totals()


def totals_of(rows: Iterable[Posted], start: Totals = NO_TOTALS) -> Totals:
    """`start` plus the rows' figures and units, in one pass (refolds sum 100,000s of rows; every
    sale adds its one row to its product's totals)."""
    (revenue, cogs, realized_pl, write_off, gain, units_in, units_out, damaged) = (
        start.revenue, start.cogs, start.realized_pl, start.write_off, start.gain,
        start.units_in, start.units_out, start.damaged,
    )  # fmt: skip
    for entry, figures in rows:
        revenue += figures.revenue
        cogs += figures.cogs
        realized_pl += figures.realized_pl
        write_off += figures.write_off
        gain += figures.gain
        kind, quantity = entry.type, entry.quantity
        if kind is TxType.SELL:
            units_out += quantity
        elif kind is TxType.BUY or (kind is TxType.ADJUST and quantity > 0):
            units_in += quantity
        elif kind is TxType.ADJUST and entry.reason is Reason.DAMAGE:
            damaged -= quantity
    return Totals(revenue, cogs, realized_pl, write_off, gain, units_in, units_out, damaged)


def rebased(totals: Totals, removed: Iterable[Posted], added: Iterable[Posted]) -> Totals:
    """Totals after replacing `removed` rows with `added` ones: work grows with the change only."""
    return totals - totals_of(removed) + totals_of(added)


class Status(StrEnum):
    OUT = "out"
    LOW = "low"
    OK = "ok"


L = TypeVar("L")


def status_limits(low_stock_threshold: L) -> tuple[tuple[Status, int | L], ...]:
    """The stock status rule, worst first: a product is the first status whose limit its available
    stock is at or under, else OK. Data, not code, so that persistence can state the same rule in
    SQL (to filter and sort by it) by passing the threshold's column name."""
    return ((Status.OUT, 0), (Status.LOW, low_stock_threshold))


def status(available: int, low_stock_threshold: int) -> Status:
    for named, limit in status_limits(low_stock_threshold):
        if available <= limit:
            return named
    return Status.OK


def inventory_value(on_hand: int, average_cost: Decimal) -> Decimal:
    return m(on_hand * average_cost)
