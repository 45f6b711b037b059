from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post

from app.domain.access import Role
from app.domain.errors import FieldError, InvalidInput
from app.domain.reservations import Status, parse_confirm, parse_reservation
from app.services.idempotency import Key
from app.services.outcomes import Confirmed, Held
from app.services.records import ReservationRecord
from app.services.reservations import ReservationService
from app.web.idempotent import once
from app.web.json_body import json_object
from app.web.views import reservation_view


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
    opt = {"role": Role.VIEWER}

    @post("/", opt={"role": Role.CLERK})
    async def create(self, request: Request, reservations: ReservationService) -> Response[Any]:
        raw = await json_object(request)

        data = parse_reservation(raw)

        async def run(key: Key | None) -> Held:
            return await reservations.reserve(data, key)

        return await once(request, raw, Held, run)

    @get("/")
    async def index(
        self, reservations: ReservationService, sku: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        return {"items": [reservation_view(r) for r in await reservations.listing(sku, _status(status))]}

    @post("/{reservation_id:int}/confirm", status_code=200, opt={"role": Role.CLERK})
    async def confirm(self, reservation_id: int, request: Request, reservations: ReservationService) -> Response[Any]:
        raw = await json_object(request)

        price = parse_confirm(raw)

        async def run(key: Key | None) -> Confirmed:
            return await reservations.confirm(reservation_id, price, key)

        return await once(request, {**raw, "confirm": reservation_id}, Confirmed, run)

    @post("/{reservation_id:int}/cancel", status_code=200, opt={"role": Role.CLERK})
    async def cancel(self, reservation_id: int, request: Request, reservations: ReservationService) -> Response[Any]:
        async def run(key: Key | None) -> ReservationRecord:
            return await reservations.cancel(reservation_id, key)

        return await once(request, {"cancel": reservation_id}, ReservationRecord, run)
