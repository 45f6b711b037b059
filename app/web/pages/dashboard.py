from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template

from app.domain.access import Role
from app.services import products, reports
from app.services.views import product_view
from app.web.auth import requires
from app.web.pages.forms import is_htmx, page


class DashboardPages(Controller):
    path = "/"
    include_in_schema = False
    guards = [requires(Role.VIEWER)]

    @get("/")
    async def index(
        self, request: Request, q: str | None = None, category: str | None = None, status: str | None = None
    ) -> Template:
        shown = await products.listing(q or None, category or None, status or None)
        context: dict[str, Any] = {
            "products": [product_view(p) for p in shown],
            "totals": reports.totals_of_products(shown),
            "q": q or "",
            "category": category or "",
            "status": status or "",
        }
        if is_htmx(request):
            return page("_products_table.html", **context)
        everything = shown if not (q or category or status) else await products.listing()
        alerts = [v for v in (product_view(p) for p in everything) if v["status"] != "ok"]
        categories = sorted({p.category for p in everything if p.category})
        return page("dashboard.html", section="dashboard", alerts=alerts, categories=categories, **context)
