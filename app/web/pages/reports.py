from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.display import Display
from app.domain.access import Role
from app.services.ledger import LedgerService
from app.services.locations import LocationService
from app.services.products import ProductService
from app.services.reports import ReportService
from app.settings import Settings
from app.web.api.reports import Days, Limit, Order, PageNo, valuation_moment
from app.web.chart import BarChart, bar_chart
from app.web.pages.forms import page, see_other
from app.web.pages.places import places_for

TITLES = {
    "summary": "Summary",
    "low-stock": "Low stock",
    "out-of-stock": "Out of stock",
    "overstock": "Overstock",
    "needs-count": "Needs a count",
    "movers": "Fast and slow movers",
    "by-category": "By category",
    "by-brand": "By brand",
    "anomalies": "Self-check (anomalies)",
    "valuation": "Stock value at a date",
    "replenishment": "Replenishment",
}
LOCATED_ONLY = {"replenishment"}  # listed while there are several locations
ABOUT = {
    "summary": "Totals over every product: stock, value, money in and out, products by status.",
    "low-stock": "Products with some stock available, at or below their low-stock threshold.",
    "out-of-stock": "Products with nothing available.",
    "overstock": "Products holding more than their overstock threshold.",
    "needs-count": "Products never counted, or not counted within their count interval.",
    "movers": "Units sold per product in a period you choose, fastest or slowest first.",
    "by-category": "Totals per category.",
    "by-brand": "Totals per brand.",
    "anomalies": "Products whose stored figures differ from a fresh replay of their ledger. Always empty.",
    "valuation": (
        "Stock, average cost and value of every product at the end of a day you choose "
        "(from the stored running figures: a month is closed exactly as it stood)."
    ),
    "replenishment": (
        "Products below a location's minimum stock for them, and the storage locations with units "
        "to spare (what they hold, less what is reserved there and their own minimum)."
    ),
}
# Column headings as people read them (the API and the CSV keep the keys).
HEADINGS = {
    "sku": "SKU",
    "name": "Name",
    "category": "Category",
    "brand": "Brand",
    "products": "Products",
    "on_hand": "On hand",
    "reserved": "Reserved",
    "available": "Available",
    "average_cost": "Avg cost",
    "inventory_value": "Value",
    "revenue": "Revenue",
    "cogs": "Cost of goods sold",
    "realized_pl": "Realized P/L",
    "write_off": "Write-off",
    "gain": "Gain",
    "status": "Status",
    "excess": "Above threshold",
    "days_since_count": "Days since count",
    "units_sold": "Units sold",
    "problems": "Problems",
    "location": "Location",
    "min_stock": "Min stock",
    "shortfall": "Short by",
    "could_send": "Could be sent",
    "sources": "From (spare)",
}
CHART_LABELS = {"cogs": "COGS"}  # where the heading is too long for a chart's label
STATUS_NAMES = {"ok": "In stock", "low": "Low", "out": "Out"}
PRODUCT_COLUMNS = ["sku", "name", "on_hand", "reserved", "available", "average_cost", "inventory_value", "status"]
EXTRA = {"overstock": ["excess"], "needs-count": ["days_since_count"], "movers": ["units_sold"]}
GROUP_COLUMNS = ["products", "on_hand", "available", "inventory_value", "revenue", "cogs", "realized_pl", "write_off"]
MONEY = ["inventory_value", "revenue", "cogs", "realized_pl", "write_off", "gain"]
PERIODS = [7, 30, 90, 365]  # the movers' period choices, in days (any other comes from the URL)
MOVERS_CHARTED = 20


def columns(name: str) -> list[str]:
    if name in ("by-category", "by-brand"):
        return [name.removeprefix("by-"), *GROUP_COLUMNS]
    if name == "anomalies":
        return ["sku", "problems"]
    if name == "valuation":
        return ["sku", "name", "category", "on_hand", "average_cost", "inventory_value"]
    if name == "replenishment":
        return ["sku", "name", "location", "on_hand", "min_stock", "shortfall", "could_send", "sources"]
    return PRODUCT_COLUMNS + EXTRA.get(name, [])


def at_location(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows whose figures at the location chosen come apart (`at_location`, as movers have them) with
    those figures in the row's own columns."""
    return [{**i, **i["at_location"]} if isinstance(i.get("at_location"), dict) else i for i in items]


def period_name(days: int) -> str:
    return "the last day" if days == 1 else f"the last {days} days"


def summary_charts(summary: dict[str, Any], shown: Display) -> list[BarChart]:
    statuses = [(STATUS_NAMES[s], n, shown.units(n), s) for s, n in summary["by_status"].items()]
    money = [(CHART_LABELS.get(k, HEADINGS[k]), Decimal(summary[k]), shown.money(summary[k]),
              "loss" if Decimal(summary[k]) < 0 else "money") for k in MONEY]  # fmt: skip
    charts = [bar_chart("Products by status", statuses), bar_chart("Money", money)]
    return [c for c in charts if c is not None]


def movers_chart(items: list[dict[str, Any]], days: int, shown: Display) -> BarChart | None:
    rows = [(i["sku"], i["units_sold"], shown.units(i["units_sold"]), "units") for i in items[:MOVERS_CHARTED]]
    return bar_chart(f"Units sold in {period_name(days)}", rows)


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False
    opt = {"role": Role.VIEWER}

    @get("/")
    async def index(self, locations: NamedDependency[LocationService]) -> Template:
        several = (await places_for(locations, None)).several
        shown = {k: v for k, v in TITLES.items() if several or k not in LOCATED_ONLY}
        return page("reports/index.html", section="reports", reports=shown, about=ABOUT)

    @get("/monthly")
    async def monthly(
        self,
        products: NamedDependency[ProductService],
        settings: NamedDependency[Settings],
        ledger: NamedDependency[LedgerService],
        sku: FromQuery[str | None] = None,
    ) -> Template:
        rows: list[dict[str, Any]] = []
        if sku:
            rows = await ledger.monthly(await products.get(sku), settings.timezone)
        return page("reports/monthly.html", section="reports", sku=sku or "", rows=rows)

    @post("/anomalies/check", opt={"role": Role.MANAGER})
    async def start_check(self, reports: NamedDependency[ReportService]) -> Redirect:
        """Start a full self-check in the background; the report page shows its progress."""
        await reports.selfcheck.start()
        return see_other("/reports/anomalies")

    @get("/{name:str}")
    async def show(
        self,
        name: FromPath[str],
        ledger: NamedDependency[LedgerService],
        reports: NamedDependency[ReportService],
        display: NamedDependency[Display],
        locations: NamedDependency[LocationService],
        days: Days = 30,
        order: FromQuery[Order] = "fast",
        limit: Limit = 20,
        at: FromQuery[str | None] = None,
        page_no: PageNo = 1,
        location: FromQuery[str | None] = None,
    ) -> Template:
        now = ledger.clock()
        moment = valuation_moment(at, ledger) if at else None
        # A report at one location while there are several (a location no longer there: every one).
        places = await places_for(locations, None)
        here = places.known(location) if places.several and name != "anomalies" else None
        body = await reports.build(name, now, days=days, fast=order == "fast", limit=limit, at=moment, page=page_no,
                                   location=here)  # fmt: skip
        query: dict[str, Any] = {"days": days, "order": order, "limit": limit} if name == "movers" else {}
        if name == "valuation" and at:
            query["at"] = at
        if here:
            query["location"] = here
        items = at_location(body.get("items", []))
        shown_columns = columns(name)
        if here and name not in ("replenishment", "valuation") and items and "min_stock" in items[0]:
            shown_columns = [*shown_columns, "min_stock"]
        charts: list[BarChart] = []
        if name == "summary":
            charts = summary_charts(body, display)
        elif name == "movers" and items:
            chart = movers_chart(items, days, display)
            charts = [chart] if chart else []
        headings = {**HEADINGS, "units_sold": f"Sold in {days} d"}
        return page(
            "reports/show.html",
            section="reports",
            name=name,
            title=TITLES[name],
            about=ABOUT[name],
            summary={k: v for k, v in body.items() if k != "location"} if name == "summary" else None,
            items=items,
            columns=shown_columns,
            location=here or "",
            **places.as_context(),
            headings=headings,
            status_names=STATUS_NAMES,
            charts=charts,
            csv_url=f"/api/reports/{name}?{urlencode({**query, 'format': 'csv'})}",
            days=days,
            periods=sorted({*PERIODS, days}),
            period=period_name(days),
            since=now - timedelta(days=days),
            order=order,
            limit=limit,
            at=at or now.astimezone(ledger.zone).date().isoformat(),
            totals=body.get("totals"),
            check=body if name == "anomalies" else None,
            paging=body if "pages" in body else None,
            query=query,
        )
