"""Every page under one router."""

from __future__ import annotations

from litestar import Router
from litestar_htmx import HTMXRequest

from app.web.pages.accounts import AdminPages, LoginPages
from app.web.pages.audit import AuditPages
from app.web.pages.dashboard import DashboardPages
from app.web.pages.imports import ImportPages
from app.web.pages.locations import LocationPages
from app.web.pages.products import ProductPages
from app.web.pages.reports import ReportPages
from app.web.pages.reservations import ReservationPages
from app.web.pages.transactions import TransactionPages
from app.web.pages.transfers import TransferPages


def page_router() -> Router:
    """Every page, with litestar-htmx's request (`request.htmx` says whether htmx sent it, and what for).
    Only the pages: the API's requests need none of it, and a sale should not pay for building it."""
    return Router(
        path="/",
        route_handlers=[
            DashboardPages,
            LoginPages,
            AdminPages,
            AuditPages,
            ProductPages,
            TransactionPages,
            ReservationPages,
            ReportPages,
            ImportPages,
            LocationPages,
            TransferPages,
        ],
        request_class=HTMXRequest,
    )
