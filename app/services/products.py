"""Products: create, change settings, look up and list (with their summary figures)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

import asyncpg

from app.domain.commands import ProductInput
from app.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from app.domain.immutable import immutable
from app.domain.rules import LocationKind
from app.intake.requests import merge_product_patch, parse_product
from app.persistence import products as repo
from app.persistence.database import Database
from app.persistence.products import SORTS, STATUSES, Filters, LocationTotal
from app.persistence.records import ProductRecord
from app.services import idempotency
from app.services.dashboard_totals import DashboardTotals
from app.services.events import announce
from app.services.idempotency import Key
from app.services.locations import location_named

PER_PAGE = 50
MAX_PER_PAGE = 500


@immutable
class ListingQuery:
    q: str | None = None
    category: str | None = None
    brand: str | None = None
    status: str | None = None
    sort: str = "sku"
    descending: bool = False
    page: int = 1  # from 1
    per_page: int = PER_PAGE
    location: str | None = None  # its products, with their stock there

    def normalized(self) -> ListingQuery:
        """Unknown sorts and statuses are ignored, sizes clamped: a hand-edited URL still shows a page."""
        return ListingQuery(
            (self.q or "").strip()[:200] or None, self.category or None, self.brand or None,
            self.status if self.status in STATUSES else None, self.sort if self.sort in SORTS else "sku",
            self.descending, max(1, self.page), min(max(1, self.per_page), MAX_PER_PAGE), self.location or None,
        )  # fmt: skip

    @property
    def filters(self) -> Filters:
        return Filters(self.q, self.category, self.brand, self.status, self.location)


@immutable
class ListingPage:
    query: ListingQuery
    items: list[ProductRecord]
    totals: dict[str, Any]  # of the whole filtered set, as reports.totals_of_products names them

    @property
    def pages(self) -> int:
        return max(1, -(-int(self.totals["products"]) // self.query.per_page))


@immutable
class ListPage:
    items: list[ProductRecord]
    total: int  # matching products in all
    next: str | None  # the last SKU of this page, when more follow: the next page's `after`


@immutable
class Suggestion:
    product: ProductRecord
    exact: bool  # the text is this product's SKU or barcode: a scan or a typed code picks it at once


class ProductService:
    """Products: create, change settings, look up and list (with their summary figures), on one Database."""

    def __init__(self, db: Database, totals: DashboardTotals | None = None) -> None:
        self.db = db
        self.totals = totals  # the listing's totals kept per filter until a change (one per process)

    async def create(self, raw: Mapping[str, Any], key: Key | None = None) -> ProductRecord:
        data = parse_product(raw)
        async with self.db.unit_of_work() as conn:
            await idempotency.claim_or_repeat(conn, key)
            await _refuse_taken_barcode(conn, data)
            await _refuse_no_shelf(conn, data.default_location)
            try:
                await repo.insert(conn, data)
            except repo.BarcodeTaken:
                raise _barcode_taken(data.barcode, None) from None
            except repo.UnknownLocation:
                raise _unknown_location(data.default_location) from None
            except repo.SkuTaken:
                raise Conflict(f"A product with SKU {data.sku!r} already exists", {"field": "sku"}) from None
            created = await _require(conn, data.sku)
            await announce(conn, [created.id])
            await idempotency.keep(conn, key, created)
            return created

    async def update(self, sku: str, patch: Mapping[str, Any]) -> ProductRecord:
        async with self.db.unit_of_work() as conn:
            current = await _require(conn, sku)
            data = parse_product(merge_product_patch(repo.settings_of(current), patch))
            await _refuse_taken_barcode(conn, data)
            if data.default_location != current.default_location:
                await _refuse_no_shelf(conn, data.default_location)
            try:
                await repo.update_settings(conn, data)
            except repo.BarcodeTaken:  # taken by a product made meanwhile
                raise _barcode_taken(data.barcode, None) from None
            except repo.UnknownLocation:
                raise _unknown_location(data.default_location) from None
            await announce(conn, [current.id])
            return await _require(conn, sku)

    async def get(self, sku: str) -> ProductRecord:
        async with self.db.read_only() as conn:
            return await _require(conn, sku)

    async def by_skus(self, skus: list[str]) -> list[ProductRecord]:
        """The products of these SKUs that exist, in one statement (a transport's batch loader)."""
        async with self.db.read_only() as conn:
            return await repo.by_skus(conn, skus)

    async def listing(
        self, q: str | None = None, category: str | None = None, status: str | None = None, *, limit: int = 500,
        after: str | None = None,
    ) -> ListPage:  # fmt: skip
        """The API's list: `limit` matching products by SKU, after the SKU `after` (an index range, as
        cheap deep in the catalogue as at its start), and how many match in all (the dashboard's kept
        totals when it has them). An unknown status is refused, as GraphQL refuses it."""
        if status is not None and status not in STATUSES:
            raise InvalidInput([FieldError("status", "must be one of ok, low, out")])
        filters = ListingQuery(q, category, status=status).normalized().filters
        items, totals = await asyncio.gather(
            self._read(lambda conn: repo.matching(conn, filters, limit + 1, after)),
            self.totals.of(filters) if self.totals else self._read(lambda conn: repo.totals(conn, filters)),
        )
        return ListPage(items[:limit], int(totals["products"]), items[limit - 1].sku if len(items) > limit else None)

    async def page_of(self, query: ListingQuery) -> ListingPage:
        """One page of the filtered, sorted catalogue and the totals of the whole filtered set: two
        statements (the page, one aggregate), read at the same time on two pooled connections (each
        task holds one: the "never stuck" rule), whatever the catalogue's size. The aggregate is
        skipped while this filter's totals are kept (`DashboardTotals`: until the next change)."""
        query = query.normalized()
        filters = query.filters
        offset = (query.page - 1) * query.per_page
        items, totals = await asyncio.gather(
            self._read(lambda conn: repo.page(conn, filters, query.sort, query.descending, query.per_page, offset)),
            self.totals.of(filters) if self.totals else self._read(lambda conn: repo.totals(conn, filters)),
        )
        listing = ListingPage(query, items, _totals_view(totals))
        if not items and query.page > listing.pages:  # a page past the end (an old link): the last one
            return await self.page_of(replace(query, page=listing.pages))
        return listing

    async def location_totals(self, query: ListingQuery) -> list[LocationTotal]:
        """On hand, held and value at each location, summed over the products the query's filters match
        (kept until a change, as the totals are). Not narrowed by the query's own location: these are
        every location's sums (filtered by STORE-2, MAIN's row summed only products also at STORE-2)."""
        filters = replace(query.normalized(), location=None).filters
        if self.totals:
            return await self.totals.by_location(filters)
        async with self.db.read_only() as conn:
            return await repo.location_totals(conn, filters)

    async def alerting(self, limit: int = 100) -> tuple[list[ProductRecord], int]:
        """Products low or out of stock (the worst first), at most `limit`, and how many there are
        (kept until a change, as the totals are)."""
        if self.totals:
            return await self.totals.alerting(limit)
        async with self.db.read_only() as conn:
            return await repo.alerting(conn, limit)

    async def choices(self) -> tuple[list[str], list[str]]:
        """The categories and the brands in use, for the dashboard's filters: a loose index scan each
        (one probe per distinct value), not a scan of the catalogue."""
        async with self.db.read_only() as conn:
            return await repo.values_in_use(conn, "category"), await repo.values_in_use(conn, "brand")

    async def suggest(self, text: str, limit: int = 8) -> list[Suggestion]:
        """Products a counter clerk may mean by `text`: the one whose SKU or barcode it is (two index
        probes: a scan is answered at once), else those with every word of it in their SKU or name
        (the trigram indexes of `search_condition`). Only the few shown are summed up."""
        text = text.strip()[:200]
        if not text.split():
            return []
        async with self.db.read_only() as conn:
            exact = await repo.by_code(conn, text)
            if exact is not None:
                return [Suggestion(exact, True)]
            found = await repo.suggested(conn, text, limit)  # the dashboard's search: trigram indexes
        return [Suggestion(p, False) for p in found]

    async def by_code(self, code: str) -> ProductRecord | None:
        """The product whose SKU or barcode this is (what a scanner or a typed SKU names), or None."""
        async with self.db.read_only() as conn:
            return await repo.by_code(conn, code.strip()[:200])

    async def _read(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """`work` on a connection of its own (page_of reads two things at once)."""
        async with self.db.read_only() as conn:
            return await work(conn)


T = TypeVar("T")


def _totals_view(total: dict[str, Any]) -> dict[str, Any]:
    """As `reports.totals_of_products` names and shows them."""
    return {
        "products": total["products"],
        "on_hand": total["on_hand"],
        "reserved": total["reserved"],
        "available": total["on_hand"] - total["reserved"],
        "inventory_value": str(total["inventory_value"]),
        **{f: str(total[f]) for f in repo.MONEY_COLUMNS},
    }


async def _refuse_taken_barcode(conn: asyncpg.Connection, data: ProductInput) -> None:
    """A 409 naming the product that already has this barcode (as a GTIN: a UPC-A and the same
    code with a leading 0 are one). The unique index still decides a race."""
    if data.barcode is None:
        return
    owner = await repo.barcode_owner(conn, data.barcode, data.sku)
    if owner is not None:
        raise _barcode_taken(data.barcode, owner)


def _barcode_taken(code: str | None, owner: str | None) -> Conflict:
    whose = f"product {owner}" if owner else "another product"
    return Conflict(f"Barcode {code} already belongs to {whose}", {"field": "barcode", "barcode": code, "sku": owner})


async def _require(conn: asyncpg.Connection, sku: str) -> ProductRecord:
    product = await repo.by_sku(conn, sku)
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}", {"sku": sku})
    return product


def _unknown_location(code: str) -> InvalidInput:
    return InvalidInput([FieldError("default_location", f"no location {code!r}")])


async def _refuse_no_shelf(conn: asyncpg.Connection, code: str) -> None:
    """A default location is where sales and holds naming none happen: a storage location that exists."""
    place = await location_named(conn, "default_location", code)
    if place.kind is not LocationKind.STORAGE:
        raise InvalidInput([FieldError("default_location", f"{code} is a {place.kind.value} location, not storage")])
