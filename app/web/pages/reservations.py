from __future__ import annotations

from datetime import datetime
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.domain.access import Role
from app.domain.errors import DomainError
from app.domain.reservations import Status, parse_confirm
from app.services.records import ReservationRecord
from app.services.reservations import ReservationService
from app.services.views import reservation_view
from app.web.auth import requires
from app.web.pages.forms import form_data, is_htmx, page, problem, see_other


def time_left(r: ReservationRecord, now: datetime) -> str:
    seconds = int((r.expires_at - now).total_seconds())
    if seconds <= 0:
        return "expired"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def row(r: ReservationRecord, now: datetime) -> dict[str, Any]:
    return {**reservation_view(r), "time_left": time_left(r, now)}


class ReservationPages(Controller):
    path = "/reservations"
    include_in_schema = False
    guards = [requires(Role.VIEWER)]

    @get("/")
    async def index(
        self, reservations: ReservationService, sku: str | None = None, status: str | None = None
    ) -> Template:
        return await self._page(reservations, sku or None, status or None)

    async def _page(
        self, reservations: ReservationService, sku: str | None, status: str | None, **extra: Any
    ) -> Template:
        now = reservations.clock()
        wanted = Status(status) if status in {s.value for s in Status} else None
        active = [] if wanted not in (None, Status.ACTIVE) else await reservations.listing(sku, Status.ACTIVE)
        recent = [r for r in await reservations.listing(sku, wanted, limit=100) if r.status is not Status.ACTIVE]
        return page(
            "reservations/index.html",
            section="reservations",
            active=[row(r, now) for r in active],
            recent=[row(r, now) for r in recent[:50]],
            sku=sku or "",
            status=status or "",
            statuses=[s.value for s in Status],
            **extra,
        )

    @post("/{reservation_id:int}/confirm", guards=[requires(Role.CLERK)])
    async def confirm(
        self, reservation_id: int, request: Request, reservations: ReservationService
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            held, _ = await reservations.confirm(reservation_id, parse_confirm({"unit_price": form.get("unit_price")}))
        except DomainError as refused:
            return await self._refused(request, reservations, reservation_id, refused)
        return self._done(request, reservations, held)

    @post("/{reservation_id:int}/cancel", guards=[requires(Role.CLERK)])
    async def cancel(
        self, reservation_id: int, request: Request, reservations: ReservationService
    ) -> Template | Redirect:
        try:
            held = await reservations.cancel(reservation_id)
        except DomainError as refused:
            return await self._refused(request, reservations, reservation_id, refused)
        return self._done(request, reservations, held)

    def _done(self, request: Request, reservations: ReservationService, held: ReservationRecord) -> Template | Redirect:
        if is_htmx(request):
            return page("reservations/_row.html", r=row(held, reservations.clock()))
        return see_other("/reservations")

    async def _refused(
        self, request: Request, reservations: ReservationService, reservation_id: int, refused: DomainError
    ) -> Template:
        """The rejection is shown on the row it concerns."""
        if is_htmx(request):
            current = [r for r in await reservations.listing(None, None, limit=5000) if r.id == reservation_id]
            if current:
                return page("reservations/_row.html", r=row(current[0], reservations.clock()), error=problem(refused))
        response = await self._page(reservations, None, None, error=problem(refused), error_id=reservation_id)
        response.status_code = 409 if "cannot" in refused.detail else 400
        return response
