"""Which figures a refold can change in the rows it passes, and the money its new figures add up to.

A stored row keeps its entry through a refold; only the position before it moves. So only
the figures that depend on that position can change: stock and average cost always, cost
of goods and profit on a SELL, write-off and gain on an ADJUST or COUNT. Revenue never
does (it is the entry's own quantity times price). Writing back only those columns, and
not reading the others at all, is what keeps a 100,000-row refold cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from operator import itemgetter

from app.domain.ledger import Figures, Posted
from app.domain.money import ZERO_MONEY
from app.domain.rules import TxType
from app.domain.summary import Totals

(STOCK, AVERAGE_COST, REVENUE, COGS, REALIZED_PL, WRITE_OFF, GAIN, LOCATION_STOCK, TO_LOCATION_STOCK) = range(
    len(Figures._fields)
)
MONEY = (REVENUE, COGS, REALIZED_PL, WRITE_OFF, GAIN)

_CAN_CHANGE: dict[TxType, frozenset[int]] = {
    TxType.BUY: frozenset({STOCK, AVERAGE_COST, LOCATION_STOCK}),
    TxType.SELL: frozenset({STOCK, AVERAGE_COST, COGS, REALIZED_PL, LOCATION_STOCK}),
    TxType.ADJUST: frozenset({STOCK, AVERAGE_COST, WRITE_OFF, GAIN, LOCATION_STOCK}),
    TxType.COUNT: frozenset({STOCK, AVERAGE_COST, WRITE_OFF, GAIN, LOCATION_STOCK}),
    TxType.TRANSFER: frozenset({STOCK, AVERAGE_COST, LOCATION_STOCK, TO_LOCATION_STOCK}),
}


def fields_a_refold_can_change(types: Iterable[TxType]) -> tuple[int, ...]:
    """Indexes into Figures that a refold can change in stored rows of these types."""
    fields: set[int] = set()
    for kind in set(types):
        fields |= _CAN_CHANGE[kind]
    return tuple(sorted(fields))


def money_sums(rows: Sequence[Posted], fields: Iterable[int]) -> dict[int, Decimal]:
    """Sum of each money figure among `fields` over `rows` (C-level: rows can be 100,000s)."""
    figures = [p.figures for p in rows]
    return {i: sum(map(itemgetter(i), figures), ZERO_MONEY) for i in fields if i in MONEY}


def money_moved(new: dict[int, Decimal], old: dict[int, Decimal]) -> Totals:
    """Totals holding new minus old sums of the money figures (units stay as they were)."""
    delta = {i: new.get(i, ZERO_MONEY) - old.get(i, ZERO_MONEY) for i in MONEY}
    return Totals(delta[REVENUE], delta[COGS], delta[REALIZED_PL], delta[WRITE_OFF], delta[GAIN])
