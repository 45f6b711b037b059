from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter
from litestar.response import Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.services.locations import LocationService
from app.services.products import PER_PAGE, ListingPage, ListingQuery, LocationTotal, ProductService
from app.web.pages.forms import page
from app.web.pages.places import Places, places_for
from app.web.views import product_view

ALERTS_SHOWN = 100
# The table's columns: URL sort name, heading, classes (hide-narrow: not on a phone's card).
COLUMNS = [
    ("sku", "SKU", ""), ("name", "Name", "hide-narrow"), ("on_hand", "On hand", "num"),
    ("reserved", "Reserved", "num"), ("available", "Available", "num"),
    ("average_cost", "Avg cost", "num hide-narrow"), ("value", "Value", "num"),
    ("realized_pl", "Realized P/L", "num hide-narrow"), ("status", "Status", ""),
    ("last_counted", "Last counted", "hide-narrow"), ("last_sale", "Last sale", "hide-narrow"),
]  # fmt: skip


def _int(text: str | None, default: int) -> int:
    return int(text) if text and text.isascii() and text.isdigit() and len(text) < 7 else default


class Links:
    """URLs of the same listing with something changed (a sort, a page): filters stay in the URL."""

    def __init__(self, query: ListingQuery) -> None:
        self.query = query

    def params(self, **changes: Any) -> dict[str, Any]:
        q = self.query
        values = {
            "q": q.q, "category": q.category, "brand": q.brand, "status": q.status, "location": q.location,
            "sort": q.sort if q.sort != "sku" else None, "dir": "desc" if q.descending else None,
            "page": q.page if q.page != 1 else None,
            "per": q.per_page if q.per_page != PER_PAGE else None,
        }  # fmt: skip
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "")}

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return "/?" + urlencode(params) if params else "/"

    def sort(self, column: str) -> str:
        """Sorting by a column starts at its first page; the sorted column's link turns it around."""
        descending = not self.query.descending if column == self.query.sort else False
        return self.url(sort=None if column == "sku" else column, dir="desc" if descending else None, page=None)


class DashboardPages(Controller):
    path = "/"
    include_in_schema = False
    opt = {"role": Role.VIEWER}

    @get("/")
    async def index(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        brand: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
        direction: Annotated[str | None, QueryParameter(name="dir", required=False)] = None,
        page_number: Annotated[str | None, QueryParameter(name="page", required=False)] = None,
        per: FromQuery[str | None] = None,
        location: FromQuery[str | None] = None,
    ) -> Template:
        places = await places_for(locations, request.user)
        query = _query(places, q, category, brand, status, sort, direction, page_number, per, location)
        if request.htmx and not request.htmx.history_restore_request:
            return page("_products_table.html", **await _table_context(products, query, places))
        # Each read on its own pooled connection, at the same time (each task holds one).
        context, (shown, alerting), (categories, brands) = await asyncio.gather(
            _table_context(products, query, places), products.alerting(ALERTS_SHOWN), products.choices()
        )
        asked = (location or "").strip()
        unknown = asked if asked and places.known(asked) is None else None  # said, not silently ignored
        return page(
            "dashboard.html", section="dashboard", alerts=[product_view(p) for p in shown], alerting=alerting,
            alerts_url=Links(ListingQuery()).url(sort="status"), categories=categories, brands=brands,
            unknown_location=unknown, **context,
        )  # fmt: skip

    @get("/by-location")
    async def by_location(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        brand: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        location: FromQuery[str | None] = None,
        pages: FromQuery[str | None] = None,
    ) -> Template:
        """The "By location" section alone, for the filters given: live.js asks for it again when the
        page's live events say stock changed (the rows update themselves; these sums cover every
        product the filters match, and every location)."""
        places = await places_for(locations, request.user)
        query = _query(places, q, category, brand, status, None, None, None, None, location)
        by_location = await products.location_totals(query) if places.several else []
        shown_pages = _int(pages, 1)  # the listing's, for what the section says of it
        return page("_by_location.html", **places.as_context(), **_by_location_context(query, by_location, shown_pages),
                    q=query.q or "", category=query.category or "", brand=query.brand or "",
                    status=query.status or "")  # fmt: skip


    @get("/totals")
    async def live_totals(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        brand: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        location: FromQuery[str | None] = None,
    ) -> Template:
        """The totals row of the products the filters match, and the alerts panel: live.js asks for them
        again (at most once a second) when the page's stream says products changed, those off the page
        too (rows update themselves; these sums and counts cover the catalogue). Both are kept until a
        change (`DashboardTotals`), so a second page asking costs no aggregate."""
        places = await places_for(locations, request.user)
        query = _query(places, q, category, brand, status, None, None, None, None, location)
        context, (shown, alerting) = await asyncio.gather(
            _table_context(products, query, places), products.alerting(ALERTS_SHOWN)
        )
        return page("_live_totals.html", alerts=[product_view(p) for p in shown], alerting=alerting,
                    alerts_url=Links(ListingQuery()).url(sort="status"), **context)  # fmt: skip


def _query(
    places: Places,
    q: str | None,
    category: str | None,
    brand: str | None,
    status: str | None,
    sort: str | None,
    direction: str | None,
    page_number: str | None,
    per: str | None,
    location: str | None,
) -> ListingQuery:
    """The listing asked for. A location filter only while there are several (a shop with one sees
    none), and one that exists. Numbers are read as text: a hand-edited `?page=x` shows the first
    page rather than a 400."""
    return ListingQuery(
        q, category, brand, status, sort or "sku", direction == "desc",
        _int(page_number, 1), _int(per, PER_PAGE), places.known(location) if places.several else None,
    ).normalized()  # fmt: skip


def _by_location_context(query: ListingQuery, by_location: list[LocationTotal], pages: int) -> dict[str, Any]:
    """The totals at each location (each linking to the listing filtered by it), and where the section
    is asked for again: the same filters (sort and page change nothing in it)."""
    links = Links(query)
    sums = [{"location": x.location, "on_hand": x.on_hand, "reserved": x.held, "available": x.on_hand - x.held,
             "inventory_value": str(x.value), "url": links.url(location=x.location, page=None)}
            for x in by_location]  # fmt: skip
    kept = links.params(sort=None, dir=None, page=None, per=None, pages=pages if pages > 1 else None)
    return {"location": query.location or "", "location_totals": sums, "listing_pages": pages,
            "by_location_url": "/by-location" + ("?" + urlencode(kept) if kept else "")}  # fmt: skip


async def _table_context(products: ProductService, query: ListingQuery, places: Places) -> dict[str, Any]:
    """The table's page and totals; with several locations also the totals at each location of the
    products the filters match, and with a location chosen each row's stock there."""
    if not places.several:
        return _listing_context(await products.page_of(query), places, [])
    listing, by_location = await asyncio.gather(products.page_of(query), products.location_totals(query))
    return _listing_context(listing, places, by_location)


AT_LOCATION = ("on_hand", "reserved", "available", "inventory_value")


def at_location(view: dict[str, Any], code: str) -> dict[str, Any]:
    """A product's figures with on hand, reserved, available and value those at `code` (none where it
    has none)."""
    here = next((x for x in view["locations"] if x["location"] == code), None)
    return {**view, **here_only(here)}


def here_only(figures: dict[str, Any] | None) -> dict[str, Any]:
    """The figures of one place (a product's, or the totals'); nothing there is nothing held or worth."""
    if figures is None:
        return {"on_hand": 0, "reserved": 0, "available": 0, "inventory_value": "0.00"}
    return {k: figures[k] for k in AT_LOCATION}


def _listing_context(listing: ListingPage, places: Places, by_location: list[LocationTotal]) -> dict[str, Any]:
    query = listing.query
    links = Links(query)
    views = [product_view(p) for p in listing.items]
    located = _by_location_context(query, by_location, listing.pages)
    sums = located["location_totals"]
    totals = listing.totals
    if query.location:
        views = [at_location(v, query.location) for v in views]
        here = next((x for x in sums if x["location"] == query.location), None)
        totals = {**totals, **here_only(here)}
    return {
        **places.as_context(),
        **located,
        "all_locations_url": links.url(location=None, page=None),
        "totals_url": "/totals" + links.url(sort=None, dir=None, page=None, per=None)[1:],
        "totals": totals,
        "products": views,
        "listing": listing,
        "links": links,
        "columns": COLUMNS,
        "live_skus": " ".join(v["sku"] for v in views),
        "q": query.q or "",
        "category": query.category or "",
        "brand": query.brand or "",
        "status": query.status or "",
        "first": (query.page - 1) * query.per_page + 1,
    }
