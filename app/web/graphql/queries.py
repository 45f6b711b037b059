"""Queries: seed 001's under its names, then Stockroom's own (products, transactions, reservations,
reports). Each reads through the same services as the REST API and shows the same views."""

from __future__ import annotations

import base64
from typing import Any, TypeVar, cast

import strawberry
from strawberry import Info
from strawberry.scalars import JSON

from app.domain import timeline_cursor
from app.domain.errors import NotFound
from app.domain.ledger import TimelineKey
from app.domain.reservations import Status
from app.services.products import MAX_PER_PAGE, ListingQuery
from app.web.graphql.context import GraphQLContext
from app.web.graphql.errors import arguments, bad_input, checked_range, checked_sku
from app.web.graphql.loaders import MAX_BATCH
from app.web.graphql.types import (
    SORT_COLUMN,
    AnomalousInventory,
    CategoryInventory,
    CheckDue,
    DamagedInventory,
    Inventory,
    InventoryConnection,
    InventoryEdge,
    InventoryFilter,
    InventorySortBy,
    InventoryStats,
    InventorySummary,
    Location,
    MovingInventory,
    PageInfo,
    Reservation,
    Transaction,
    TransactionConnection,
    TransactionEdge,
)
from app.web.views import product_view, reservation_view, transaction_view

Ctx = Info[GraphQLContext, None]
T = TypeVar("T", bound=Inventory)
MAX_LIMIT = 1000


def _as(cls: type[T], view: dict[str, Any], **extra: Any) -> T:
    return cls(**vars(Inventory.of(view)), **extra)


def _window(limit: int, offset: int) -> tuple[int, int]:
    return checked_range(limit, "limit", 1, MAX_LIMIT), checked_range(offset, "offset", 0, 2**31 - 1)


def cursor_of(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def offset_of(cursor: str | None) -> int:
    """The position after a cursor (0 without one); a cursor this API did not make names `after`."""
    if cursor is None:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind == "offset" and number.isdigit() and int(number) < 2**31:
            return int(number) + 1
    except (ValueError, UnicodeDecodeError):
        pass
    raise bad_input([("after", "is not a cursor this API gave")])


def cursor_of_row(key: TimelineKey) -> str:
    """A transaction's cursor: its timeline key (as the REST timeline's `next` writes it)."""
    return base64.b64encode(f"key:{timeline_cursor.cursor_of(key)}".encode()).decode()


def key_after(cursor: str | None) -> TimelineKey | int | None:
    """Where a transactions page starts: after the row a key cursor names, or (a cursor given before
    transactions were paged by key) after an offset."""
    if cursor is None:
        return None
    try:
        kind, _, text = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind == "key":
            return timeline_cursor.key_of(text)
    except (ValueError, UnicodeDecodeError):
        raise bad_input([("after", "is not a cursor this API gave")]) from None
    return offset_of(cursor)


async def _load(info: Ctx, sku: str) -> Inventory | None:
    view = await info.context.loader.load(checked_sku(sku))
    return Inventory.of(view) if view else None


@strawberry.type
class Query:
    # --- seed 001 --------------------------------------------------------------------------------

    @strawberry.field(description="A product's stock by SKU (null for an unknown SKU)")
    async def inventory_detail(self, info: Ctx, sku_id: str) -> Inventory | None:
        return await _load(info, sku_id)

    @strawberry.field
    async def inventory_stats(self, info: Ctx, sku_id: str) -> InventoryStats | None:
        found = await _load(info, sku_id)
        return InventoryStats.of(found) if found else None

    @strawberry.field(description="Low or out of stock (available at or under the threshold), the worst first")
    async def low_stock_inventories(self, info: Ctx, limit: int = 20, offset: int = 0) -> list[Inventory]:
        limit, offset = _window(limit, offset)
        reports = info.context.services.reports
        views = await reports.by_status("out") + await reports.by_status("low")
        views.sort(key=lambda v: (v["available"], v["sku"]))
        return [Inventory.of(v) for v in views[offset : offset + limit]]

    @strawberry.field(description="Nothing available (available at or under 0)")
    async def out_of_stock_inventories(self, info: Ctx) -> list[Inventory]:
        return [Inventory.of(v) for v in await info.context.services.reports.by_status("out")]

    @strawberry.field(description="Never counted, or counted longer ago than the product's count interval")
    async def inventories_needing_check(self, info: Ctx) -> list[CheckDue]:
        services = info.context.services
        due = await services.reports.needs_count(services.ledger.clock())
        return [_as(CheckDue, v, days_since_check=v["days_since_count"]) for v in due]

    @strawberry.field
    async def inventory_summary(self, info: Ctx) -> InventorySummary:
        s = await info.context.services.reports.summary()
        return InventorySummary(
            total_skus=s["products"], total_stock=s["on_hand"], total_reserved=s["reserved"],
            total_available=s["available"], low_stock_count=s["by_status"]["low"],
            out_of_stock_count=s["by_status"]["out"], inventory_value=s["inventory_value"], revenue=s["revenue"],
            cogs=s["cogs"], realized_pl=s["realized_pl"], write_off=s["write_off"], gain=s["gain"],
        )  # fmt: skip

    @strawberry.field(description="The most units sold in the last `days` days")
    async def fast_moving_inventories(self, info: Ctx, limit: int = 20, days: int = 30) -> list[MovingInventory]:
        return await _movers(info, limit, days, fast=True)

    @strawberry.field(description="The fewest units sold in the last `days` days")
    async def slow_moving_inventories(self, info: Ctx, limit: int = 20, days: int = 30) -> list[MovingInventory]:
        return await _movers(info, limit, days, fast=False)

    @strawberry.field(description="Totals per category (products without one are the null category)")
    async def inventory_by_category(self, info: Ctx) -> list[CategoryInventory]:
        reports = info.context.services.reports
        alerting: dict[str | None, int] = {}
        for view in await reports.by_status("low") + await reports.by_status("out"):
            alerting[view["category"]] = alerting.get(view["category"], 0) + 1
        return [
            CategoryInventory(
                category_id=g["category"],
                category_name=g["category"],
                sku_count=g["products"],
                total_stock=g["on_hand"],
                low_stock_count=alerting.get(g["category"], 0),
                inventory_value=g["inventory_value"],
            )
            for g in await reports.grouped("category")
        ]

    @strawberry.field(
        description="Products whose stored figures differed from a replay of their ledger at the last full "
        "self-check (run one with POST /api/reports/anomalies or `inventory check`; a check of 50,000 "
        "products takes tens of seconds, too long for a query)"
    )
    async def anomalous_inventories(self, info: Ctx) -> list[AnomalousInventory]:
        found = (await info.context.services.reports.selfcheck.report())["items"]
        views = await info.context.loader.load_many([a["sku"] for a in found])
        return [_as(AnomalousInventory, v, problems=a["problems"]) for a, v in zip(found, views, strict=True) if v]

    # --- seed 001's batch reads ----------------------------------------------------------------

    @strawberry.field(description="Products by SKU, in the order asked (null for an unknown SKU): one query")
    async def inventories_by_skus(self, info: Ctx, skus: list[str]) -> list[Inventory | None]:
        if len(skus) > MAX_BATCH:
            raise bad_input([("skus", f"must name at most {MAX_BATCH} SKUs")])
        views = await info.context.loader.load_many([checked_sku(s, "skus") for s in skus])
        return [Inventory.of(v) if v else None for v in views]

    @strawberry.field(description="Products with stock held by active reservations, the most held first (500 at most)")
    async def inventories_with_reserve(self, info: Ctx) -> list[Inventory]:
        query = ListingQuery(sort="reserved", descending=True, per_page=MAX_PER_PAGE)
        page = await info.context.services.products.page_of(query)
        return [Inventory.of(v) for v in map(product_view, page.items) if v["reserved"] > 0]

    @strawberry.field(
        description="Products with units written off as damaged (ADJUST, reason damage) in the last `days` days"
    )
    async def inventories_with_damage(self, info: Ctx, days: int = 30) -> list[DamagedInventory]:
        services = info.context.services
        found = await services.reports.damaged(services.ledger.clock(), checked_range(days, "days", 1, 3650))
        return [_as(DamagedInventory, v, damaged_units=v["damaged_units"], days=v["days"]) for v in found]

    # --- Stockroom's own -----------------------------------------------------------------------

    @strawberry.field(description="A product by SKU (the same record as inventoryDetail)")
    async def product(self, info: Ctx, sku: str) -> Inventory | None:
        return await _load(info, checked_sku(sku, "sku"))

    @strawberry.field(description="The catalogue, filtered and sorted, a page at a time (cursor paging)")
    async def products(
        self, info: Ctx, filter: InventoryFilter | None = None, sort: InventorySortBy = InventorySortBy.SKU,
        descending: bool = False, first: int = 50, after: str | None = None,
    ) -> InventoryConnection:  # fmt: skip
        first = checked_range(first, "first", 1, MAX_PER_PAGE)
        start = offset_of(after)
        if start % first:
            raise bad_input([("after", f"must be the cursor of a page of {first}: ask with the same `first`")])
        f = filter or InventoryFilter()
        if f.status is not None and f.status not in ("ok", "low", "out"):
            raise bad_input([("filter.status", "must be one of ok, low, out")])
        query = ListingQuery(f.search, f.category, f.brand, f.status, SORT_COLUMN[sort], descending,
                             start // first + 1, first)  # fmt: skip
        page = await info.context.services.products.page_of(query)
        edges = [InventoryEdge(cursor=cursor_of(start + i), node=Inventory.of(product_view(p))) for i, p in
                 enumerate(page.items)]  # fmt: skip
        total = int(page.totals["products"])
        return InventoryConnection(
            edges=edges, total_count=total,
            page_info=PageInfo(has_next_page=start + len(edges) < total,
                               end_cursor=edges[-1].cursor if edges else None),
        )  # fmt: skip

    @strawberry.field(
        description="A product's transactions, newest first, with the running figures after each; paged by key "
        "(`after` the previous page's endCursor), so a page deep in a long ledger costs what the first does"
    )
    async def transactions(
        self, info: Ctx, sku: str, first: int = 50, after: str | None = None
    ) -> TransactionConnection | None:
        first = checked_range(first, "first", 1, 5000)
        start = key_after(after)
        services = info.context.services
        try:
            product = await services.products.get(checked_sku(sku, "sku"))
        except NotFound:  # null, as inventoryDetail answers an unknown SKU
            return None
        if isinstance(start, int):  # an offset cursor of before: OFFSET reads every row it skips
            rows = await services.ledger.timeline(product, first, start, newest_first=True)
            more = start + len(rows) < product.tx_count
        else:  # by key: one range scan of the timeline index, the last page as fast as the first
            page = await services.ledger.timeline_page(product, first, start, newest_first=True)
            rows, more = page.rows, page.more
        edges = [TransactionEdge(cursor=cursor_of_row(r.entry.key), node=Transaction.of(transaction_view(r)))
                 for r in rows]  # fmt: skip
        return TransactionConnection(
            edges=edges, total_count=product.tx_count,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )  # fmt: skip

    @strawberry.field(description="Every stock location, MAIN first, then by code")
    async def locations(self, info: Ctx) -> list[Location]:
        return [Location.of(x) for x in await info.context.services.ledger.locations.all()]

    @strawberry.field(description="A stock location by code (null for an unknown code)")
    async def location(self, info: Ctx, code: str) -> Location | None:
        try:
            return Location.of(await info.context.services.ledger.locations.get(code))
        except NotFound:
            return None

    @strawberry.field(description="Reservations, newest first (500 at most); with `location`, the holds naming it")
    async def reservations(
        self, info: Ctx, sku: str | None = None, status: str | None = None, location: str | None = None
    ) -> list[Reservation]:
        wanted = None
        if status:
            try:
                wanted = Status(status)
            except ValueError:
                raise bad_input([("status", f"must be one of {', '.join(s.value for s in Status)}")]) from None
        with arguments():
            found = await info.context.services.reservations.listing(
                checked_sku(sku, "sku") if sku else None, wanted, location=location
            )
        return [Reservation.of(reservation_view(r)) for r in found]

    @strawberry.field(
        description="A report by name, as GET /api/reports/{name} answers it; with `location`, its figures there"
    )
    async def report(
        self, info: Ctx, name: str, days: int = 30, fast: bool = True, limit: int = 20, location: str | None = None
    ) -> JSON:
        services = info.context.services
        try:
            with arguments():  # an unknown location names the argument
                built: dict[str, Any] = await services.reports.build(
                    name, services.ledger.clock(), days=checked_range(days, "days", 1, 3650), fast=fast,
                    limit=checked_range(limit, "limit", 1, MAX_LIMIT), location=location,
                )  # fmt: skip
        except NotFound as unknown:
            raise bad_input([("name", unknown.detail)]) from None
        return cast(JSON, built)


async def _movers(info: Ctx, limit: int, days: int, *, fast: bool) -> list[MovingInventory]:
    limit = checked_range(limit, "limit", 1, MAX_LIMIT)
    days = checked_range(days, "days", 1, 3650)
    services = info.context.services
    movers = await services.reports.movers(services.ledger.clock(), days, fast, limit)
    return [_as(MovingInventory, v, units_sold=v["units_sold"], days=v["days"]) for v in movers]
