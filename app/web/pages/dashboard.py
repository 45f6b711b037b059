from __future__ import annotations

from litestar import Controller, get
from litestar.response import Template

from app.services import products, reports
from app.services.views import product_view
from app.web.pages.forms import page


class DashboardPages(Controller):
    path = "/"
    include_in_schema = False

    @get("/")
    async def index(self, q: str | None = None, category: str | None = None, status: str | None = None) -> Template:
        items = await products.listing(q or None, category or None, status or None)
        return page(
            "dashboard.html",
            section="dashboard",
            products=[product_view(p) for p in items],
            totals=reports.totals_of_products(items),
            q=q or "",
            category=category or "",
            status=status or "",
        )
