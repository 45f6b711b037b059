from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, get
from litestar.response import Template

from app.domain.access import Role
from app.services import history, products, reports
from app.services.ledger import LedgerService
from app.settings import Settings
from app.web.api.reports import Days, Limit, Order
from app.web.auth import requires
from app.web.pages.forms import page

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
}
PRODUCT_COLUMNS = ["sku", "name", "on_hand", "reserved", "available", "average_cost", "inventory_value", "status"]
EXTRA = {"overstock": ["excess"], "needs-count": ["days_since_count"], "movers": ["units_sold"]}
GROUP_COLUMNS = ["products", "on_hand", "available", "inventory_value", "revenue", "cogs", "realized_pl", "write_off"]


def columns(name: str) -> list[str]:
    if name in ("by-category", "by-brand"):
        return [name.removeprefix("by-"), *GROUP_COLUMNS]
    if name == "anomalies":
        return ["sku", "problems"]
    return PRODUCT_COLUMNS + EXTRA.get(name, [])


class ReportPages(Controller):
    path = "/reports"
    include_in_schema = False
    guards = [requires(Role.VIEWER)]

    @get("/")
    async def index(self) -> Template:
        return page("reports/index.html", section="reports", reports=TITLES)

    @get("/monthly")
    async def monthly(self, settings: Settings, sku: str | None = None) -> Template:
        rows: list[dict[str, Any]] = []
        if sku:
            rows = await history.monthly(await products.get(sku), settings.timezone)
        return page("reports/monthly.html", section="reports", sku=sku or "", rows=rows)

    @get("/{name:str}")
    async def show(
        self,
        name: str,
        ledger: LedgerService,
        days: Days = 30,
        order: Order = "fast",
        limit: Limit = 20,
    ) -> Template:
        body = await reports.build(name, ledger.clock(), days=days, fast=order == "fast", limit=limit)
        query = {"days": days, "order": order, "limit": limit} if name == "movers" else {}
        return page(
            "reports/show.html",
            section="reports",
            name=name,
            title=TITLES[name],
            summary=body if name == "summary" else None,
            items=body.get("items", []),
            columns=columns(name),
            csv_url=f"/api/reports/{name}?{urlencode({**query, 'format': 'csv'})}",
            days=days,
            order=order,
            limit=limit,
        )
