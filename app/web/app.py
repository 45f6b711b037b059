"""The app factory: one place that wires settings, services, controllers and errors."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, ValidationException
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar_htmx import HTMXConfig, HTMXPlugin

from app.domain.errors import DomainError
from app.persistence.database import UNAVAILABLE, Database
from app.services import idempotency
from app.services.accounts import RateLimited
from app.services.gc_pause import settle_after_start_up
from app.services.wiring import build_services
from app.settings import Settings, get_settings
from app.web.api.catalogue_csv import CatalogueCsvController
from app.web.api.locations import LocationController
from app.web.api.products import ProductController
from app.web.api.reports import MinStockController, ReportController
from app.web.api.reservations import ReservationController
from app.web.api.schemas_openapi import OPENAPI
from app.web.api.transactions import TransactionController
from app.web.auth import access_middleware, authentication
from app.web.compression import COMPRESSION
from app.web.errors import (
    RETRY_AFTER_SECONDS,
    domain_error_handler,
    internal_error_handler,
    not_authorized_handler,
    permission_denied_handler,
    rate_limited_handler,
    unavailable_handler,
    validation_error_handler,
)
from app.web.event_stream import event_stream
from app.web.graphql import GraphQLController
from app.web.headers import security_headers
from app.web.pages.routes import page_router
from app.web.params import checked_params
from app.web.raw_headers import RawHeaderRequest
from app.web.templating import template_config
from app.web.views import product_view


@get("/healthz", include_in_schema=False, exclude_from_auth=True)
async def healthz() -> dict[str, str]:
    """The process answers (says nothing about the database: that is /readyz)."""
    return {"status": "ok"}


@get("/favicon.ico", include_in_schema=False, cache=86400, exclude_from_auth=True)
async def favicon() -> Redirect:
    """Browsers ask for it on any page, JSON included."""
    return Redirect("/static/favicon.svg", status_code=301)


@get("/readyz", include_in_schema=False, cache=False, exclude_from_auth=True)
async def readyz(db: NamedDependency[Database]) -> Response[dict[str, str]]:
    """Ready when a pooled connection can be had and answers within a second."""
    if await db.ready(within=1.0):
        return Response({"status": "ready"})
    return Response({"status": "unavailable", "detail": "no database connection within 1 s"}, status_code=503,
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip


log = logging.getLogger("stockroom")
STATIC = Path(__file__).resolve().parent.parent / "static"


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run a background job forever; a failed round is logged and the next one tries again."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("background job %s failed", getattr(job, "__name__", job))


def create_app(settings: Settings | None = None) -> Litestar:
    """The app, on the database the settings name. With no settings (each of `inventory serve`'s
    worker processes), the process's (get_settings: read from the environment once, where the CLI
    put the settled URL). Making the app starts nothing: the pool opens in the lifespan."""
    settings = settings or get_settings()
    services = build_services(Database.from_settings(settings), settings, view=product_view)
    db, display, ledger, reservations = services.db, services.display, services.ledger, services.reservations
    product_service, account_service, report_service = services.products, services.accounts, services.reports
    backup_service, hub, progress = services.backups, services.hub, services.progress

    async def purge_idempotency_keys() -> None:
        await idempotency.purge(db)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await db.open()
        await hub.start()
        settle_after_start_up()
        sweeper = asyncio.create_task(every(settings.sweep_seconds, reservations.sweep))
        purger = asyncio.create_task(every(3600, purge_idempotency_keys))
        backups = asyncio.create_task(backup_service.run_schedule())  # idle without INVENTORY_BACKUP_DIR
        try:
            yield
        finally:
            sweeper.cancel()
            purger.cancel()
            backups.cancel()
            await report_service.selfcheck.finish()  # a full check under way stops (its progress record goes)
            await hub.stop()
            await db.close()

    return Litestar(
        # For what runs outside a handler's dependencies (app/web/app_services.py).
        state=State({"services": services}),
        route_handlers=[
            healthz,
            readyz,
            favicon,
            event_stream,
            ProductController,
            LocationController,
            TransactionController,
            ReservationController,
            ReportController,
            MinStockController,  # PUT /api/products/{sku}/locations/{code}: a min_stock for reports
            CatalogueCsvController,
            GraphQLController,  # /graphql: seed 001's API over the same services (issue 14)
            page_router(),
            create_static_files_router(path="/static", directories=[STATIC], opt={"exclude_from_auth": True}),
        ],
        template_config=template_config(display),
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "display": Provide(lambda: display, use_cache=True, sync_to_thread=False),
            "db": Provide(lambda: db, use_cache=True, sync_to_thread=False),
            "accounts": Provide(lambda: account_service, use_cache=True, sync_to_thread=False),
            "ledger": Provide(lambda: ledger, use_cache=True, sync_to_thread=False),
            "products": Provide(lambda: product_service, use_cache=True, sync_to_thread=False),
            "locations": Provide(lambda: ledger.locations, use_cache=True, sync_to_thread=False),
            "reservations": Provide(lambda: reservations, use_cache=True, sync_to_thread=False),
            "progress": Provide(lambda: progress, use_cache=True, sync_to_thread=False),
            "hub": Provide(lambda: hub, use_cache=True, sync_to_thread=False),
            "reports": Provide(lambda: report_service, use_cache=True, sync_to_thread=False),
            "backups": Provide(lambda: backup_service, use_cache=True, sync_to_thread=False),
        },
        exception_handlers={
            500: internal_error_handler,
            RateLimited: rate_limited_handler,
            **dict.fromkeys(UNAVAILABLE, unavailable_handler),
            DomainError: domain_error_handler,
            ValidationException: validation_error_handler,
            NotAuthorizedException: not_authorized_handler,
            PermissionDeniedException: permission_denied_handler,
        },
        # Who asks, before the parameters are checked (an error page shows who is signed in); the
        # route's role and the CSRF token after.
        middleware=[security_headers, authentication(account_service), checked_params, access_middleware],
        plugins=[HTMXPlugin(HTMXConfig(set_request_class_globally=False))],  # the pages' router sets it
        lifespan=[lifespan, account_service.token_cache_listener()],  # every process drops revoked tokens at once
        openapi_config=OPENAPI,
        request_max_body_size=1_000_000,
        request_class=RawHeaderRequest,  # the pages' router sets HTMXRequest
        compression_config=COMPRESSION,
    )
