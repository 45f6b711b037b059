"""The one place that builds the services from a database, the settings and a clock.

create_app uses it, and so do tests that drive the services in-process (the ledger state machine),
so a test runs the services as the app wires them: same locks shared by the ledger and the
reservations, same refold chunks, same display. Nothing here opens a connection or starts a task.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from app.display import Display
from app.persistence.database import Database
from app.persistence.reports import ValuedSums
from app.services.accounts import AccountService
from app.services.backup import BackupService
from app.services.dashboard_totals import DashboardTotals
from app.services.events import EventHub, ProductView
from app.services.ledger import LedgerService, utc_now
from app.services.locks import ProductLocks
from app.services.products import ProductService
from app.services.progress import ProgressHub
from app.services.recompute import RefoldChunks
from app.services.reports import ReportService, ValuationKey
from app.services.reservations import ReservationService
from app.services.until_change import UntilChange
from app.settings import Settings


@dataclass(frozen=True)
class Services:
    """Every service of one process, built once and handed to the transports."""

    db: Database
    display: Display  # the shop's formats (Settings.display()), made once
    locks: ProductLocks  # shared by the ledger and the reservations: one lock per product
    ledger: LedgerService
    reservations: ReservationService
    products: ProductService
    accounts: AccountService
    reports: ReportService
    backups: BackupService
    hub: EventHub
    progress: ProgressHub


def build_services(
    db: Database, settings: Settings, clock: Callable[[], datetime] = utc_now, *, view: ProductView
) -> Services:
    """`view` is how a product is shown to clients (events and reports carry it); the web layer's."""
    ledger = ledger_service(db, settings, clock)
    locks = ledger.locks
    hub = EventHub(db, view=view)
    totals = DashboardTotals(db, hub.caught_up)  # kept until the hub hears of a change
    valuations: UntilChange[ValuationKey, ValuedSums] = UntilChange(hub.caught_up, most=32)  # by `at`, likewise
    hub.on_change += [totals.forget, valuations.forget]
    return Services(
        db=db,
        display=ledger.display,
        locks=locks,
        ledger=ledger,
        reservations=ReservationService(locks, ledger, clock, max_batch=settings.max_batch),
        products=ProductService(db, totals),
        accounts=AccountService(db),
        reports=ReportService(db, view=view, valuations=valuations),
        backups=BackupService(db, settings),
        hub=hub,
        progress=ProgressHub(),
    )


def ledger_service(
    db: Database, settings: Settings, clock: Callable[[], datetime] = utc_now, *, display: Display | None = None
) -> LedgerService:
    """The ledger service as the settings configure it, with its own product locks: for
    build_services, and for the CLI commands (import, demo) that need only the ledger."""
    return LedgerService(
        ProductLocks(),
        settings.timezone,
        db=db,
        max_batch=settings.max_batch,
        clock=clock,
        chunks=RefoldChunks.starting_at(settings.refold_chunk),
        display=display or settings.display(),
    )
