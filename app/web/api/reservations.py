from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from app.domain.access import Role
from app.domain.errors import FieldError, InvalidInput
from app.domain.reservations import Status, parse_confirm, parse_reservation
from app.services.reservations import ReservationService
from app.services.views import reservation_view, transaction_view
from app.web.auth import requires
from app.web.json_body import json_object


def _status(raw: str | None) -> Status | None:
    if not raw:
        return None
    try:
        return Status(raw)
    except ValueError:
        raise InvalidInput([FieldError("status", f"must be one of {', '.join(s.value for s in Status)}")]) from None


class ReservationController(Controller):
    path = "/api/reservations"
    tags = ["reservations"]
    guards = [requires(Role.VIEWER)]

    @post("/", guards=[requires(Role.CLERK)])
    async def create(self, request: Request, reservations: ReservationService) -> Response[dict[str, Any]]:
        held, created = await reservations.reserve(parse_reservation(await json_object(request)))
        return Response(reservation_view(held), status_code=201 if created else 200)

    @get("/")
    async def index(
        self, reservations: ReservationService, sku: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        return {"items": [reservation_view(r) for r in await reservations.listing(sku, _status(status))]}

    @post("/{reservation_id:int}/confirm", status_code=200, guards=[requires(Role.CLERK)])
    async def confirm(self, reservation_id: int, request: Request, reservations: ReservationService) -> dict[str, Any]:
        held, sale = await reservations.confirm(reservation_id, parse_confirm(await json_object(request)))
        return {"reservation": reservation_view(held), "transaction": transaction_view(sale) if sale else None}

    @post("/{reservation_id:int}/cancel", status_code=200, guards=[requires(Role.CLERK)])
    async def cancel(self, reservation_id: int, reservations: ReservationService) -> dict[str, Any]:
        return reservation_view(await reservations.cancel(reservation_id))
