"""A product's running totals, kept in step with its rows by adding and removing them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum

from app.domain.ledger import Posted
from app.domain.money import ZERO_MONEY, m
from app.domain.rules import Reason, TxType


@dataclass(frozen=True, slots=True)
class Totals:
    revenue: Decimal = ZERO_MONEY
    cogs: Decimal = ZERO_MONEY
    realized_pl: Decimal = ZERO_MONEY
    write_off: Decimal = ZERO_MONEY
    gain: Decimal = ZERO_MONEY
    units_in: int = 0
    units_out: int = 0
    damaged: int = 0

    def with_row(self, row: Posted, sign: int = 1) -> Totals:
        """Totals with `row` added (`sign=1`) or taken out (`sign=-1`)."""
        f, e = row.figures, row.entry
        units_in = e.quantity if e.type is TxType.BUY or (e.type is TxType.ADJUST and e.quantity > 0) else 0
        units_out = e.quantity if e.type is TxType.SELL else 0
        damaged = -e.quantity if e.type is TxType.ADJUST and e.reason is Reason.DAMAGE and e.quantity < 0 else 0
        return replace(
            self,
            revenue=self.revenue + sign * f.revenue,
            cogs=self.cogs + sign * f.cogs,
            realized_pl=self.realized_pl + sign * f.realized_pl,
            write_off=self.write_off + sign * f.write_off,
            gain=self.gain + sign * f.gain,
            units_in=self.units_in + sign * units_in,
            units_out=self.units_out + sign * units_out,
            damaged=self.damaged + sign * damaged,
        )


def totals_of(rows: list[Posted]) -> Totals:
    totals = Totals()
    for row in rows:
        totals = totals.with_row(row)
    return totals


def rebased(totals: Totals, removed: list[Posted], added: list[Posted]) -> Totals:
    """Totals after replacing `removed` rows with `added` ones: work grows with the change only."""
    for row in removed:
        totals = totals.with_row(row, -1)
    for row in added:
        totals = totals.with_row(row)
    return totals


class Status(StrEnum):
    OUT = "out"
    LOW = "low"
    OK = "ok"


def status(available: int, low_stock_threshold: int) -> Status:
    if available <= 0:
        return Status.OUT
    if available <= low_stock_threshold:
        return Status.LOW
    return Status.OK


def inventory_value(on_hand: int, average_cost: Decimal) -> Decimal:
    return m(on_hand * average_cost)
