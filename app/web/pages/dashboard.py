from __future__ import annotations

import asyncio
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.params import Parameter
from litestar.response import Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.services.products import PER_PAGE, ListingPage, ListingQuery, ProductService
from app.web.pages.forms import page
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
            "q": q.q, "category": q.category, "brand": q.brand, "status": q.status,
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
        products: ProductService,
        request: HTMXRequest,
        q: str | None = None,
        category: str | None = None,
        brand: str | None = None,
        status: str | None = None,
        sort: str | None = None,
        direction: Annotated[str | None, Parameter(query="dir", required=False)] = None,
        page_number: Annotated[str | None, Parameter(query="page", required=False)] = None,
        per: str | None = None,
    ) -> Template:
        # Numbers are read as text: a hand-edited `?page=x` shows the first page rather than a 400.
        query = ListingQuery(
            q, category, brand, status, sort or "sku", direction == "desc",
            _int(page_number, 1), _int(per, PER_PAGE),
        ).normalized()  # fmt: skip
        if request.htmx and not request.htmx.history_restore_request:
            return page("_products_table.html", **_table_context(await products.page_of(query)))
        # Each read on its own pooled connection, at the same time (each task holds one).
        listing, (shown, alerting), (categories, brands) = await asyncio.gather(
            products.page_of(query), products.alerting(ALERTS_SHOWN), products.choices()
        )
        context = _table_context(listing)
        return page(
            "dashboard.html", section="dashboard", alerts=[product_view(p) for p in shown], alerting=alerting,
            alerts_url=Links(ListingQuery()).url(sort="status"), categories=categories, brands=brands, **context,
        )  # fmt: skip


def _table_context(listing: ListingPage) -> dict[str, Any]:
    query = listing.query
    links = Links(query)
    views = [product_view(p) for p in listing.items]
    return {
        "products": views,
        "totals": listing.totals,
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
