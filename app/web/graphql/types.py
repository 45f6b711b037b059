"""The schema's object types. `Inventory` is seed 001's inventory record, read from Stockroom's
product figures (the mapping is in docs/decisions.md, "GraphQL"); the others are Stockroom's own.
Each is made from the view the REST API answers (app.web.views), so that both transports show the
same figures. Money is `Decimal`: Strawberry's Decimal scalar, written as a string, never a float."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.domain.errors import NotFound
from app.persistence.locations import LocationRecord
from app.services.records import ProductRecord
from app.web.graphql.errors import checked_range
from app.web.views import product_view


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _money(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@strawberry.type(description="A product's stock at the location asked for")
class StockHere:
    sku: str
    name: str
    on_hand: int
    reserved: int = strawberry.field(description="Held there by active reservations that name the location")
    available: int

    @classmethod
    def of(cls, p: ProductRecord, code: str) -> StockHere:
        on_hand, held = p.stocks.get(code, 0), p.held.get(code, 0)
        return cls(sku=p.sku, name=p.name, on_hand=on_hand, reserved=held, available=on_hand - held)


@strawberry.type
class StockHerePage:
    items: list[StockHere]
    next: str | None = strawberry.field(description="The `after` of the next page (a SKU); null on the last page")


@strawberry.type(description="A place stock is kept: a store, a back room, a warehouse, or goods in transit")
class Location:
    code: str
    name: str
    kind: str = strawberry.field(description="storage, or transit (goods on the way)")
    created_at: datetime

    @classmethod
    def of(cls, x: LocationRecord) -> Location:
        return cls(code=x.code, name=x.name, kind=x.kind.value, created_at=x.created_at)

    @strawberry.field(
        description="The stock of every product its ledger has used here, by SKU, a page at a time (as GET "
        "/api/locations/{code}/stock answers it)"
    )
    async def stock(self, info: strawberry.Info, first: int = 500, after: str | None = None) -> StockHerePage:
        first = checked_range(first, "first", 1, 5000)
        found = await info.context.services.ledger.locations.products_at(self.code, first + 1, after)
        page = found[:first]
        return StockHerePage(items=[StockHere.of(p, self.code) for p in page],
                             next=page[-1].sku if len(found) > first else None)  # fmt: skip


@strawberry.type(description="A product's stock at one location")
class LocationStock:
    location: str = strawberry.field(description="The location's code")
    on_hand: int
    reserved: int = strawberry.field(description="Held there by active reservations that name the location")
    available: int

    @classmethod
    def of(cls, view: dict[str, Any]) -> LocationStock:
        """From an item of the REST product view's `locations` (app.web.views.location_stocks)."""
        return cls(location=view["location"], on_hand=view["on_hand"], reserved=view["reserved"],
                   available=view["available"])  # fmt: skip


@strawberry.type(description="A product's stock, as seed 001's inventory record names it")
class Inventory:
    id: strawberry.ID = strawberry.field(description="The product's SKU (Stockroom has one record per SKU)")
    sku_id: str = strawberry.field(description="The SKU")
    name: str
    category: str | None
    brand: str | None
    current_stock: int = strawberry.field(description="On hand")
    reserved_stock: int = strawberry.field(description="Held by active reservations")
    available_stock: int = strawberry.field(description="On hand less reserved")
    inbound_total: int = strawberry.field(description="Units in: bought, and ADJUSTs that added stock")
    outbound_total: int = strawberry.field(description="Units sold")
    damage_count: int = strawberry.field(description="Units written off as damaged")
    warning_threshold: int = strawberry.field(description="The low-stock threshold")
    last_check_time: datetime | None = strawberry.field(description="When the product was last COUNTed")
    is_low_stock: bool = strawberry.field(description="Available at or under the threshold (low or out)")
    status: str = strawberry.field(description="ok, low or out")
    average_cost: Decimal
    inventory_value: Decimal
    realized_pl: Decimal
    sell_price: Decimal | None
    last_sale_at: datetime | None
    transaction_count: int
    default_location: str = strawberry.field(description="Where its transactions happen unless they name a location")
    locations: list[LocationStock] = strawberry.field(
        description="Its stock at every location its ledger has used, MAIN first (the totals above are their sums)"
    )

    @classmethod
    def of(cls, view: dict[str, Any]) -> Inventory:
        """From the REST API's product view (app.web.views.product_view)."""
        return cls(
            id=strawberry.ID(view["sku"]), sku_id=view["sku"], name=view["name"], category=view["category"],
            brand=view["brand"], current_stock=view["on_hand"], reserved_stock=view["reserved"],
            available_stock=view["available"], inbound_total=view["units_in"], outbound_total=view["units_out"],
            damage_count=view["damaged"], warning_threshold=view["low_stock_threshold"],
            last_check_time=_time(view["last_counted_at"]), is_low_stock=view["status"] != "ok",
            status=view["status"], average_cost=Decimal(view["average_cost"]),
            inventory_value=Decimal(view["inventory_value"]), realized_pl=Decimal(view["realized_pl"]),
            sell_price=_money(view["sell_price"]), last_sale_at=_time(view["last_sale_at"]),
            transaction_count=view["transaction_count"], default_location=view["default_location"],
            locations=[LocationStock.of(x) for x in view["locations"]],
        )  # fmt: skip


@strawberry.type
class InventoryStats:
    current_stock: int
    reserved_stock: int
    available_stock: int
    low_stock_alert: bool

    @classmethod
    def of(cls, inventory: Inventory) -> InventoryStats:
        return cls(current_stock=inventory.current_stock, reserved_stock=inventory.reserved_stock,
                   available_stock=inventory.available_stock, low_stock_alert=inventory.is_low_stock)  # fmt: skip


@strawberry.type
class InventorySummary:
    total_skus: int
    total_stock: int
    total_reserved: int
    total_available: int
    low_stock_count: int = strawberry.field(description="Products with status low (out of stock not included)")
    out_of_stock_count: int
    inventory_value: Decimal
    revenue: Decimal
    cogs: Decimal
    realized_pl: Decimal
    write_off: Decimal
    gain: Decimal


@strawberry.type
class CategoryInventory:
    category_id: str | None = strawberry.field(description="The category's name (Stockroom has no category ids)")
    category_name: str | None
    sku_count: int
    total_stock: int
    low_stock_count: int = strawberry.field(description="Products low or out of stock")
    inventory_value: Decimal


@strawberry.type
class MovingInventory(Inventory):
    units_sold: int = strawberry.field(description="Units sold in the report's window")
    days: int = strawberry.field(description="The window, in days")


@strawberry.type
class CheckDue(Inventory):
    days_since_check: int | None


@strawberry.type
class DamagedInventory(Inventory):
    damaged_units: int = strawberry.field(description="Units written off as damaged in the window")
    days: int = strawberry.field(description="The window, in days")


@strawberry.type
class AnomalousInventory(Inventory):
    problems: list[str]


@strawberry.type
class Reservation:
    id: int
    sku_id: str
    order_id: str
    quantity: int
    status: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    unit_price: Decimal | None
    transaction_id: int | None = strawberry.field(description="The sale it became (the first, when split)")
    location: str | None = strawberry.field(description="Where it holds stock (null: against the product's total)")

    @classmethod
    def of(cls, view: dict[str, Any]) -> Reservation:
        """From the REST API's reservation view."""
        return cls(
            id=view["id"], sku_id=view["sku"], order_id=view["order_ref"], quantity=view["quantity"],
            status=view["status"], created_at=datetime.fromisoformat(view["created_at"]),
            expires_at=datetime.fromisoformat(view["expires_at"]), ended_at=_time(view["ended_at"]),
            unit_price=_money(view["unit_price"]), transaction_id=view["transaction_id"], location=view["location"],
        )  # fmt: skip


@strawberry.type(description="A transaction with the running figures after it")
class Transaction:
    id: int
    sku: str
    type: str
    quantity: int
    unit_price: Decimal | None
    at: datetime
    reason: str | None
    note: str | None
    stock_after: int
    average_cost_after: Decimal
    revenue: Decimal
    cogs: Decimal
    realized_pl: Decimal
    write_off: Decimal
    gain: Decimal
    location: str = strawberry.field(description="Where it happened; a TRANSFER's source")
    to_location: str | None = strawberry.field(description="A TRANSFER's destination")
    location_stock_after: int = strawberry.field(description="The stock at its location after it")
    to_location_stock_after: int | None = strawberry.field(description="A TRANSFER's: the stock at its destination")

    @classmethod
    def of(cls, view: dict[str, Any]) -> Transaction:
        """From the REST API's transaction view. A row from before locations keeps all its product's
        stock at MAIN: its stock there is its stock_after."""
        here = view["location_stock_after"]
        return cls(
            id=view["id"], sku=view["sku"], type=view["type"], quantity=view["quantity"],
            unit_price=_money(view["unit_price"]), at=datetime.fromisoformat(view["at"]), reason=view["reason"],
            note=view["note"], stock_after=view["stock_after"], average_cost_after=Decimal(view["average_cost_after"]),
            revenue=Decimal(view["revenue"]), cogs=Decimal(view["cogs"]), realized_pl=Decimal(view["realized_pl"]),
            write_off=Decimal(view["write_off"]), gain=Decimal(view["gain"]), location=view["location"],
            to_location=view["to_location"], location_stock_after=view["stock_after"] if here is None else here,
            to_location_stock_after=view["to_location_stock_after"],
        )  # fmt: skip


@strawberry.type(description="What a mutation did, as seed 001's clients read it")
class InventoryOperationResult:
    success: bool
    message: str
    retries_used: int = strawberry.field(
        description="Always 0: Stockroom waits for the product's lock (group commit), it never retries a version"
    )
    reservation: Reservation | None = None
    transaction: Transaction | None = None
    transactions: list[Transaction] = strawberry.field(
        default_factory=list,
        description="A confirm's sales: one per location its units came from (`transaction` is the first)",
    )
    replayed: bool = strawberry.field(default=False, description="Answered from an earlier request's idempotency key")
    known: strawberry.Private[Inventory | None] = None  # the product as the outcome kept it
    sku: strawberry.Private[str | None] = None  # else the product to read, if the client asks for it

    @strawberry.field(description="The product after the operation")
    async def inventory(self, info: strawberry.Info) -> Inventory | None:
        """Read only when asked for (a reservation's outcome keeps no product figures): a client of
        the hot path that selects `success` alone costs no extra query."""
        if self.known is not None or self.sku is None:
            return self.known
        try:
            return Inventory.of(product_view(await info.context.services.products.get(self.sku)))
        except NotFound:
            return None


@strawberry.type(description="A transaction recorded, edited or deleted (or, in a dry run, what it would do)")
class TransactionChange:
    dry_run: bool
    transaction: Transaction | None
    before: Inventory
    after: Inventory
    replayed: bool = False


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class InventoryEdge:
    cursor: str
    node: Inventory


@strawberry.type
class InventoryConnection:
    edges: list[InventoryEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type
class TransactionEdge:
    cursor: str
    node: Transaction


@strawberry.type
class TransactionConnection:
    edges: list[TransactionEdge]
    page_info: PageInfo
    total_count: int


@strawberry.type(description="A live change of a product's figures (subscriptions)")
class StockAlert:
    sku_id: str
    status: str
    available_stock: int
    warning_threshold: int


@strawberry.enum(description="Seed 001's sort orders, plus Stockroom's value, realized P/L, SKU and name")
class InventorySortBy(Enum):
    STOCK = "stock"
    RESERVED = "reserved"
    AVAILABLE = "available"
    LAST_CHECK = "lastCheck"
    CREATED = "created"
    VALUE = "value"
    PL = "pl"
    SKU = "sku"
    NAME = "name"


# The catalogue's sort (app.persistence.products.SORTS) of each. Stockroom's catalogue keeps no
# creation order of its own to sort by: CREATED sorts by SKU (docs/decisions.md, "GraphQL").
SORT_COLUMN = {
    InventorySortBy.STOCK: "on_hand", InventorySortBy.RESERVED: "reserved", InventorySortBy.AVAILABLE: "available",
    InventorySortBy.LAST_CHECK: "last_counted", InventorySortBy.CREATED: "sku", InventorySortBy.VALUE: "value",
    InventorySortBy.PL: "realized_pl", InventorySortBy.SKU: "sku", InventorySortBy.NAME: "name",
}  # fmt: skip


@strawberry.input
class InventoryFilter:
    search: str | None = None
    category: str | None = None
    brand: str | None = None
    status: str | None = None


@strawberry.input
class WarningThresholdUpdate:
    sku_id: str
    warning_threshold: int


@strawberry.input
class TransactionInput:
    sku: str
    type: str
    quantity: int
    unit_price: Decimal | None = None
    at: str | None = None
    reason: str | None = None
    note: str | None = None
    location: str | None = strawberry.field(default=None, description="Empty: the product's default location")
    to_location: str | None = strawberry.field(default=None, description="A TRANSFER's destination (required for it)")


@strawberry.input
class TransactionPatch:
    sku: str | None = None
    type: str | None = None
    quantity: int | None = None
    unit_price: Decimal | None = None
    at: str | None = None
    reason: str | None = None
    note: str | None = None
    location: str | None = None
    to_location: str | None = None


@strawberry.input
class NewLocation:
    code: str
    name: str
    kind: str | None = strawberry.field(default=None, description="storage (the default) or transit")


__all__ = ["JSON"]
