"""The commands a change is made from: a product, a transaction, a reservation, each valid as
entered (read from what users send by app.intake; checked against the ledger by the services)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.domain.immutable import immutable
from app.domain.rules import DEFAULT_COUNT_INTERVAL_DAYS, DEFAULT_TTL_SECONDS, MAIN, Reason, TxType


@immutable
class ProductInput:
    sku: str
    name: str
    category: str | None = None
    brand: str | None = None
    low_stock_threshold: int = 0
    overstock_threshold: int | None = None
    count_interval_days: int = DEFAULT_COUNT_INTERVAL_DAYS
    barcode: str | None = None  # EAN-13, UPC-A or EAN-8, check digit valid
    sell_price: Decimal | None = None  # the default unit price of a SELL
    default_location: str = MAIN  # where its transactions and holds happen unless they name a location


@immutable
class TransactionInput:
    """A valid transaction as entered. `at=None` means "now": stamped when it is committed,
    under the product's lock, so that sales entered now always land at the end of the timeline."""

    sku: str
    type: TxType
    quantity: int
    at: datetime | None
    unit_price: Decimal | None = None
    reason: Reason | None = None
    note: str | None = None
    location: str | None = None  # None: the product's default location
    to_location: str | None = None  # a TRANSFER's destination (required for it, refused otherwise)

    @property
    def locations(self) -> tuple[str, ...]:
        """The locations it names (the product's default is not named)."""
        return tuple(code for code in (self.location, self.to_location) if code is not None)


@immutable
class ReservationInput:
    sku: str
    quantity: int
    order_ref: str
    ttl_seconds: int = DEFAULT_TTL_SECONDS
    location: str | None = None  # None: held against the product's total


@immutable
class ConfirmHold:
    """Sell what a reservation holds, at `unit_price`."""

    reservation_id: int
    unit_price: Decimal


@immutable
class CancelHold:
    """Release what a reservation holds."""

    reservation_id: int


HoldEnding = ConfirmHold | CancelHold
