"""The records repositories hand upwards: a product with its figures, a ledger row, a reservation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime
from decimal import Decimal

from app.domain.commands import TransactionInput
from app.domain.immutable import immutable
from app.domain.ledger import Entry, Figures, Position, Posted, TimelineKey
from app.domain.reservations import Status
from app.domain.rules import MAIN
from app.domain.summary import Totals


@immutable
class ProductRecord:
    id: int
    sku: str
    name: str
    category: str | None
    brand: str | None
    low_stock_threshold: int
    overstock_threshold: int | None
    count_interval_days: int
    created_at: datetime
    position: Position
    reserved: int
    totals: Totals
    tx_count: int
    last_key: TimelineKey | None
    last_counted_at: datetime | None
    last_sale_at: datetime | None
    lapsed_holds: bool = False  # some active reservations have run out and await the sweeper
    barcode: str | None = None
    sell_price: Decimal | None = None  # the default unit price of a SELL
    default_location: str = MAIN  # where its transactions happen unless they name a location
    # Units on hand by location, every location its ledger has used (their sum is `position.stock`)
    stocks: Mapping[str, int] = field(default_factory=dict)
    # What its reservations that name a location hold there (those without one hold against the total)
    held: Mapping[str, int] = field(default_factory=dict)

    @property
    def several_locations(self) -> bool:
        """Its ledger has used another location than MAIN."""
        return any(code != MAIN for code in self.stocks)

    def follows(self, key: TimelineKey) -> bool:
        """True when `key` would be the newest point of this product's timeline."""
        return self.last_key is None or key > self.last_key

    def with_figures(
        self, position: Position, stocks: Mapping[str, int], totals: Totals, tx_count: int,
        last_key: TimelineKey | None, last_counted_at: datetime | None, last_sale_at: datetime | None,
    ) -> ProductRecord:  # fmt: skip
        """This product with the figures a ledger change leaves: `dataclasses.replace` at a quarter of
        its cost (1.3 against 5.2 µs), which every sale pays."""
        return ProductRecord(
            self.id, self.sku, self.name, self.category, self.brand, self.low_stock_threshold,
            self.overstock_threshold, self.count_interval_days, self.created_at, position, self.reserved, totals,
            tx_count, last_key, last_counted_at, last_sale_at, self.lapsed_holds, self.barcode, self.sell_price,
            self.default_location, stocks, self.held,
        )  # fmt: skip

    def with_holds(self, reserved: int, held: Mapping[str, int]) -> ProductRecord:
        """This product with what its reservations hold now (see `with_figures`: every confirm pays it)."""
        return ProductRecord(
            self.id, self.sku, self.name, self.category, self.brand, self.low_stock_threshold,
            self.overstock_threshold, self.count_interval_days, self.created_at, self.position, reserved,
            self.totals, self.tx_count, self.last_key, self.last_counted_at, self.last_sale_at, self.lapsed_holds,
            self.barcode, self.sell_price, self.default_location, self.stocks, held,
        )  # fmt: skip


@immutable
class LedgerRow:
    """A stored transaction: the entry, what it caused, and what the fold ignores."""

    posted: Posted
    note: str | None
    sku: str

    @property
    def entry(self) -> Entry:
        return self.posted.entry

    @property
    def figures(self) -> Figures:
        return self.posted.figures

    def as_input(self) -> TransactionInput:
        e = self.entry
        return TransactionInput(
            self.sku, e.type, e.quantity, e.at, e.unit_price, e.reason, self.note, e.location, e.to_location
        )


@immutable
class ReservationRecord:
    id: int
    product_id: int
    sku: str
    order_ref: str
    quantity: int
    status: Status  # as a reader must see it: lapsed active ones are expired
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    unit_price: Decimal | None
    transaction_id: int | None  # the sale it became (the first, when its confirm took stock from several locations)
    location: str | None = None  # where it holds stock; None: against the product's total

    # Made directly, as ProductRecord.with_figures is: `dataclasses.replace` looks every field up by
    # name (~3 µs), and each confirm of a batch ends its hold, then names the sale it became.
    def ended(self, status: Status, at: datetime, unit_price: Decimal | None) -> ReservationRecord:
        """This hold confirmed (at `unit_price`) or cancelled (its price as it was) at `at`."""
        return ReservationRecord(
            self.id, self.product_id, self.sku, self.order_ref, self.quantity, status, self.created_at,
            self.expires_at, at, unit_price, self.transaction_id, self.location,
        )  # fmt: skip

    def became(self, transaction_id: int | None) -> ReservationRecord:
        """This confirmed hold with the id of the (first) sale it became."""
        return ReservationRecord(
            self.id, self.product_id, self.sku, self.order_ref, self.quantity, self.status, self.created_at,
            self.expires_at, self.ended_at, self.unit_price, transaction_id, self.location,
        )  # fmt: skip
