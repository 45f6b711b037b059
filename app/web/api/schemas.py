"""The API's bodies as types: what `/schema/openapi.json` documents for every request and answer.

These Structs describe the wire format the handlers already speak: request bodies are still read by
`app.web.json_body` and checked field by field by the domain (so a 400 names each wrong field, and a
lenient input such as `"type": "buy"` or `"quantity": "3"` is still taken), and answers are still
built by `app.services.views` (an idempotent replay sends the stored body as it was). Money is
`Decimal`, which is a decimal string in JSON ("12.50"), never a float. Enums are the domain's own.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from app.domain.reservations import Status as _ReservationStatus
from app.domain.rules import (
    DEFAULT_COUNT_INTERVAL_DAYS,
    DEFAULT_TTL_SECONDS,
    LOCATION_CODE_MAX,
    MAX_QUANTITY,
    MAX_TTL_SECONDS,
    NAME_MAX,
    NOTE_MAX,
    ORDER_REF_MAX,
    SKU_MAX,
    TEXT_FIELD_MAX,
    LocationKind,
    Reason,
    TxType,
)
from app.domain.summary import Status as _StockStatus
from app.intake.requests import SKU_PATTERN

# The domain has two enums named Status, and OpenAPI names an enum by its class: the same values
# under names that tell them apart, or a client generator cannot make both.
StockStatus = StrEnum("StockStatus", {s.name: s.value for s in _StockStatus})  # type: ignore[misc]
ReservationStatus = StrEnum("ReservationStatus", {s.name: s.value for s in _ReservationStatus})  # type: ignore[misc]

# ---- fields ---------------------------------------------------------------------------------------

Sku = Annotated[
    str, Meta(min_length=1, max_length=SKU_MAX, pattern=f"^{SKU_PATTERN.pattern}$", examples=["TEA-GREEN-100"])
]
Name = Annotated[str, Meta(min_length=1, max_length=NAME_MAX)]
Label = Annotated[str, Meta(max_length=TEXT_FIELD_MAX)]  # a category or a brand
Note = Annotated[str, Meta(max_length=NOTE_MAX)]
Barcode = Annotated[
    str, Meta(pattern="^([0-9]{8}|[0-9]{12,13})$", description="EAN-13, UPC-A or EAN-8 digits with a valid check digit")
]
Count = Annotated[int, Meta(ge=0, lt=MAX_QUANTITY)]
Threshold = Annotated[int, Meta(ge=0, lt=MAX_QUANTITY)]
PositiveSetting = Annotated[int, Meta(ge=1, lt=MAX_QUANTITY)]
SignedQuantity = Annotated[
    int,
    Meta(
        gt=-MAX_QUANTITY,
        lt=MAX_QUANTITY,
        description="BUY and SELL: more than 0; ADJUST: signed, not 0; COUNT: the units counted, 0 or more",
    ),
]
Quantity = Annotated[int, Meta(ge=1, lt=MAX_QUANTITY)]
Ttl = Annotated[int, Meta(ge=1, le=MAX_TTL_SECONDS, description="seconds the stock is held (at most 7 days)")]
OrderRef = Annotated[str, Meta(min_length=1, max_length=ORDER_REF_MAX)]
LocationCode = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=LOCATION_CODE_MAX,
        pattern=f"^{SKU_PATTERN.pattern}$",
        examples=["MAIN", "STORE-2"],
        description="a location's code; absent or null: the product's default location (MAIN unless set)",
    ),
]
# Decimal is a string in JSON: money is written "12.50" (at most 4 places, 0 <= price < 1,000,000,000).
Money = Decimal


# ---- requests -------------------------------------------------------------------------------------


class NewProduct(Struct, kw_only=True, forbid_unknown_fields=True):
    """A product to create. Any other field is refused (400 naming it)."""

    sku: Sku
    name: Name
    category: Label | None = None
    brand: Label | None = None
    low_stock_threshold: Threshold = 0
    overstock_threshold: PositiveSetting | None = None
    count_interval_days: PositiveSetting = DEFAULT_COUNT_INTERVAL_DAYS
    barcode: Barcode | None = None
    sell_price: Money | None = None
    default_location: LocationCode | None = None  # where its transactions happen unless they name one (MAIN)


class ProductPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; the SKU cannot change (sending another one is a 400)."""

    sku: Sku | None = None
    name: Name | None = None
    category: Label | None = None
    brand: Label | None = None
    low_stock_threshold: Threshold | None = None
    overstock_threshold: PositiveSetting | None = None
    count_interval_days: PositiveSetting | None = None
    barcode: Barcode | None = None
    sell_price: Money | None = None
    default_location: LocationCode | None = None  # where its transactions happen unless they name one (MAIN)


class NewTransaction(Struct, kw_only=True, forbid_unknown_fields=True):
    """A transaction to record. `at` absent means now; without an offset it is read in the business time
    zone; it may not be more than 5 minutes ahead. `unit_price` is required for BUY and SELL and taken
    by an ADJUST that adds stock; `reason` is required for ADJUST and taken by nothing else."""

    sku: Sku
    type: TxType
    quantity: SignedQuantity
    unit_price: Money | None = None
    at: datetime | None = None
    reason: Reason | None = None
    note: Note | None = None
    location: LocationCode | None = None
    to_location: LocationCode | None = None  # TRANSFER: where the units go (required for it, refused otherwise)


class TransactionPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; a new `sku` moves the transaction to that product."""

    sku: Sku | None = None
    type: TxType | None = None
    quantity: SignedQuantity | None = None
    unit_price: Money | None = None
    at: datetime | None = None
    reason: Reason | None = None
    note: Note | None = None
    location: LocationCode | None = None
    to_location: LocationCode | None = None


class NewReservation(Struct, kw_only=True, forbid_unknown_fields=True):
    """Stock to hold for an order. The same `order_ref` again answers with the reservation it holds."""

    sku: Sku
    quantity: Quantity
    order_ref: OrderRef
    ttl_seconds: Ttl = DEFAULT_TTL_SECONDS
    location: LocationCode | None = None  # hold stock there; absent: against the product's total


class NewLocation(Struct, kw_only=True, forbid_unknown_fields=True):
    """A place that keeps stock. `transit` is for goods on the way: ship into it, receive out of it."""

    code: LocationCode
    name: Name
    kind: LocationKind = LocationKind.STORAGE


class LocationPatch(Struct, kw_only=True, forbid_unknown_fields=True):
    """The fields to change; the code cannot change."""

    name: Name | None = None
    kind: LocationKind | None = None


class MinStockSetting(Struct, kw_only=True, forbid_unknown_fields=True):
    """A location's replenishment hint for a product: the stock the location should hold (the
    replenishment report lists it when below); null clears it."""

    min_stock: Threshold | None


class Confirmation(Struct, kw_only=True, forbid_unknown_fields=True):
    """Confirming a reservation records its sale at this unit price."""

    unit_price: Money


# ---- answers --------------------------------------------------------------------------------------


class Location(Struct, kw_only=True):
    code: str
    name: str
    kind: LocationKind
    created_at: datetime


class LocationList(Struct, kw_only=True):
    items: list[Location]


class ProductAtLocation(Struct, kw_only=True):
    sku: str
    name: str
    on_hand: int
    reserved: int
    available: int


class LocationStockPage(Struct, kw_only=True):
    """The products whose ledger has used the location, by SKU; `next` (null on the last page) is the
    `after` of the following page."""

    location: str
    items: list[ProductAtLocation]
    next: str | None = None


class LocationStock(Struct, kw_only=True):
    """A product's stock at one location: `reserved` is what reservations naming the location hold there;
    `inventory_value` is its units there at the product's average cost (one cost across locations)."""

    location: str
    on_hand: int
    reserved: int
    available: int
    inventory_value: Money


class Product(Struct, kw_only=True):
    sku: str
    name: str
    category: str | None
    brand: str | None
    low_stock_threshold: int
    overstock_threshold: int | None
    count_interval_days: int
    barcode: str | None
    sell_price: Money | None
    on_hand: int
    reserved: int
    available: int
    average_cost: Money
    inventory_value: Money
    revenue: Money
    cogs: Money
    realized_pl: Money
    write_off: Money
    gain: Money
    units_in: int
    units_out: int
    damaged: int
    last_counted_at: datetime | None
    last_sale_at: datetime | None
    transaction_count: int
    status: StockStatus
    default_location: str
    locations: list[LocationStock]


class ProductList(Struct, kw_only=True):
    items: list[Product]
    total: int  # products matching the filters in all
    next: str | None  # more follow: pass it as `after` for the next page


class Transaction(Struct, kw_only=True):
    """A transaction with what it caused (the running figures after it, in timeline order)."""

    id: int
    seq: int
    sku: str
    type: TxType
    quantity: int
    unit_price: Money | None
    at: datetime
    reason: Reason | None
    note: str | None
    stock_after: int
    average_cost_after: Money
    revenue: Money
    cogs: Money
    realized_pl: Money
    write_off: Money
    gain: Money
    location: str
    to_location: str | None
    location_stock_after: int  # the stock at `location` after it
    to_location_stock_after: int | None  # a TRANSFER's: the stock at `to_location` after it


class TransactionPage(Struct, kw_only=True):
    """A product's timeline, oldest first; `total` counts all its transactions; `next` (null on the last
    page) is the cursor to pass as `after` for the following page."""

    items: list[Transaction]
    total: int
    next: str | None = None


class Month(Struct, kw_only=True):
    month: Annotated[str, Meta(pattern="^[0-9]{4}-[0-9]{2}$", examples=["2026-11"])]
    bought: int
    sold: int
    adjusted: int
    revenue: Money
    cogs: Money
    realized_pl: Money
    write_off: Money
    gain: Money
    closing_stock: int
    closing_average_cost: Money


class MonthList(Struct, kw_only=True):
    items: list[Month]


class RecordedTransaction(Transaction, kw_only=True):
    """The transaction recorded (or changed), and its product after it."""

    product: Product


class VoidedTransaction(Struct, kw_only=True):
    """The transaction as it was before the void, and its product now."""

    voided: Transaction
    product: Product


class ProductChange(Struct, kw_only=True):
    sku: str
    before: Product
    after: Product


class DryRun(Struct, kw_only=True):
    """What the change would do; nothing was saved. `products` lists every product it touches (two when
    an edit moves a transaction to another product)."""

    dry_run: bool
    transaction: Transaction | None
    before: Product
    after: Product
    products: list[ProductChange]


class Reservation(Struct, kw_only=True):
    id: int
    sku: str
    order_ref: str
    quantity: int
    status: ReservationStatus
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    unit_price: Money | None
    transaction_id: int | None  # the sale it became: the first, when it took stock from several locations
    location: LocationCode | None  # where it holds stock; null: against the product's total


class ReservationList(Struct, kw_only=True):
    """Reservations, newest first; `next` (null on the last page) is the cursor to pass as `after` for
    the following page."""

    items: list[Reservation]
    next: str | None = None


class ConfirmedReservation(Struct, kw_only=True):
    """The reservation, confirmed, and the sale it recorded. A reservation without a location is
    taken from the product's locations in fulfilment order (its default location first, then its
    other storage locations by code), one sale per location used: `transaction` is the first of
    them (null if it was deleted since), `transactions` every one that still stands, in timeline order."""

    reservation: Reservation
    transaction: Transaction | None
    transactions: list[Transaction]


class ImportResult(Struct, kw_only=True):
    imported: int
    skipped: int
    products_created: int


class StatusCounts(Struct, kw_only=True):
    ok: int
    low: int
    out: int


class Totals(Struct, kw_only=True):
    """Figures added up over products."""

    products: int
    on_hand: int
    reserved: int
    available: int
    inventory_value: Money
    revenue: Money
    cogs: Money
    realized_pl: Money
    write_off: Money
    gain: Money


class Summary(Totals, kw_only=True):
    """Every product's figures added up, and how many products are in each status."""

    by_status: StatusCounts
    location: str | None = None  # `?location=`: the figures there, the money of the rows there


class Paged(Struct, kw_only=True):
    """A report that lists products answers a page of them (`?page=`, `?per=`, 500 by default): how
    many there are in all, and where this page is; `location`, the location asked for (`?location=`)."""

    total: int
    page: int
    per: int
    pages: int
    location: str | None = None


class AtLocation(Struct, kw_only=True):
    """A product's figures at the location a report was asked for (`?location=`): its stock there,
    what reservations naming the location hold there, their value at the product's average cost (cost
    is per product), the status by the product's threshold applied there, and the location's min_stock."""

    location: str
    on_hand: int
    reserved: int
    available: int
    inventory_value: Money
    status: StockStatus
    min_stock: int | None
    last_counted_at: datetime | None = None  # needs-count: the last COUNT at the location (null: never)


class LocatedProduct(Product, kw_only=True):
    """A product in a report; with `?location=`, its figures there too (the report's rule applies to them)."""

    at_location: AtLocation | None = None


class StockReport(Paged, kw_only=True):
    """The products that are low (available at or under their threshold, above 0) or out (0 or less);
    with `?location=`, those of the location that are so there."""

    items: list[LocatedProduct]


class OverstockRow(LocatedProduct, kw_only=True):
    excess: int


class OverstockReport(Paged, kw_only=True):
    """Products holding more than their overstock threshold, and by how much."""

    items: list[OverstockRow]


class NeedsCountRow(LocatedProduct, kw_only=True):
    days_since_count: int | None


class NeedsCountReport(Paged, kw_only=True):
    """Products not counted within their count interval (`days_since_count` is null if never counted)."""

    items: list[NeedsCountRow]


class MoversRow(LocatedProduct, kw_only=True):
    units_sold: int
    days: int


class MoversReport(Struct, kw_only=True):
    """The products that sold the most (or, `order=slow`, the least) units in the last `days` days
    (with `?location=`: sold there)."""

    items: list[MoversRow]
    location: str | None = None


class CategoryTotals(Totals, kw_only=True):
    category: str | None


class CategoryReport(Struct, kw_only=True):
    items: list[CategoryTotals]
    location: str | None = None


class BrandTotals(Totals, kw_only=True):
    brand: str | None


class BrandReport(Struct, kw_only=True):
    items: list[BrandTotals]
    location: str | None = None


class Anomaly(Struct, kw_only=True):
    sku: str
    problems: list[str]


class FullCheck(Struct, kw_only=True):
    """A full self-check that finished: when, over how much, and how many products it found wrong."""

    started_at: datetime
    finished_at: datetime
    products: int
    rows: int
    anomalies: int


class CheckUnderWay(Struct, kw_only=True):
    """A full self-check running now: how far it is."""

    started_at: datetime
    products: int
    products_done: int
    rows_done: int
    updated_at: str


class AnomalyReport(Struct, kw_only=True):
    """The self-check: every product whose stored figures differ from a replay of its ledger (always empty).
    Without `sku`, what the last full check found (`items`, at most 1,000; `last_full_check`, null if
    none ran yet) and the one under way (`running`); with `sku`, that product checked now."""

    items: list[Anomaly]
    checked_at: datetime | None = None
    scope: Literal["catalogue", "product"] = "catalogue"
    last_full_check: FullCheck | None = None
    running: CheckUnderWay | None = None
    location: str | None = None  # `?location=`: only the products the location keeps


class ReplenishmentSource(Struct, kw_only=True):
    """A storage location that could send units: its stock, what is held there, its own min_stock
    for the product, and what it could spare (stock less held less its min_stock)."""

    location: str
    on_hand: int
    reserved: int
    min_stock: int | None
    spare: int


class ReplenishmentRow(Struct, kw_only=True):
    """A product below a location's min_stock for it: by how much, and where the units could come from
    (`could_send`: as many of the shortfall as the sources could spare together)."""

    sku: str
    name: str
    location: str
    on_hand: int
    min_stock: int
    shortfall: int
    could_send: int
    sources: list[ReplenishmentSource]


class Replenishment(Paged, kw_only=True):
    """Every (product, location) whose stock there is below the location's min_stock, by location then SKU."""

    items: list[ReplenishmentRow]


class ProductMinStock(Struct, kw_only=True):
    """A location's min_stock for a product (null: none), and the product's stock there now."""

    sku: str
    location: str
    min_stock: int | None
    on_hand: int


class ValuationRow(Struct, kw_only=True):
    sku: str
    name: str
    category: str | None
    brand: str | None
    on_hand: int
    average_cost: Money
    inventory_value: Money
    last_transaction_at: datetime


class ValuationTotals(Struct, kw_only=True):
    products: int
    on_hand: int
    inventory_value: Money


class CategoryValuation(ValuationTotals, kw_only=True):
    category: str | None


class Valuation(Paged, kw_only=True):
    """Stock, average cost and value of every product that had stock at `at`, from the stored running
    figures; totals, and totals per category."""

    at: datetime
    items: list[ValuationRow]
    totals: ValuationTotals
    by_category: list[CategoryValuation]


# ---- errors ---------------------------------------------------------------------------------------


class FieldProblem(Struct, kw_only=True):
    """One wrong field (or, in an import, one wrong cell: its `line` too)."""

    field: str
    message: str
    line: int | None = None


class FieldProblems(Struct, kw_only=True):
    errors: list[FieldProblem]


class ParameterProblem(Struct, kw_only=True):
    """A query or path parameter of the wrong type or out of range (checked by Litestar)."""

    message: str
    key: str | None = None
    source: str | None = None


class InvalidRequest(Struct, kw_only=True):
    """400: nothing was changed. `extra.errors` names every wrong field at once."""

    status_code: int
    detail: str
    extra: FieldProblems | list[ParameterProblem]


class ConflictDetails(Struct, kw_only=True):
    """What the conflict is about. A refused change names the transaction it would break (`transaction_id`,
    `seq`, `type`, `quantity`, `at`, with `stock_before` and `stock_after` there), or the reservations
    it would leave short (`on_hand`, `reserved`), or the closed period (`books_closed_through`); a taken
    SKU or barcode names its `field`; a reservation names its `id` and `status`."""

    sku: str | None = None
    transaction_id: int | None = None
    seq: int | None = None
    type: TxType | None = None
    quantity: int | None = None
    at: datetime | None = None
    location: str | None = None  # where the stock would go below zero (or below what is reserved there)
    stock_before: int | None = None
    stock_after: int | None = None
    on_hand: int | None = None
    reserved: int | None = None
    available: int | None = None
    requested: int | None = None
    books_closed_through: str | None = None
    field: str | None = None
    barcode: str | None = None
    code: str | None = None  # a location code that exists already
    id: int | None = None
    status: ReservationStatus | None = None
    line: int | None = None
    imported: ImportResult | None = None


class ConflictError(Struct, kw_only=True):
    """409: a ledger rule would break; nothing was changed."""

    status_code: int
    detail: str
    extra: ConflictDetails


class Error(Struct, kw_only=True):
    """Every other error: 401 (how to send a token in `extra`), 403, 404, 413, 422 (an Idempotency-Key
    sent again with another request), 429, 503 (try again after Retry-After seconds). Errors Litestar
    answers itself (413: a body over the limit) have no `extra`."""

    status_code: int
    detail: str
    extra: dict[str, Any] = {}
