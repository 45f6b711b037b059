from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from app.domain.access import Role
from app.domain.errors import FieldError, InvalidInput
from app.domain.reservations import Status
from app.intake.requests import parse_confirm, parse_reservation
from app.services.idempotency import Key
from app.services.outcomes import Confirmed, Held
from app.services.records import ReservationRecord
from app.services.reservations import ReservationService
from app.web.api.schemas import Confirmation, ConfirmedReservation, NewReservation, Reservation, ReservationList
from app.web.api.schemas_openapi import ApiOperation, KeyedOperation, answers
from app.web.app_services import services_of
from app.web.compression import UNCOMPRESSED
from app.web.idempotent import once
from app.web.json_answer import JsonAnswer
from app.web.json_body import JsonBody
from app.web.views import reservation_view


def _reservation_id(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isascii() or not after.isdigit() or len(after) > 15:
        raise InvalidInput([FieldError("after", "must be the next of a previous page")])
    return int(after)


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

    @post(
        "/",
        operation_id="reserve",
        opt={"role": Role.CLERK, UNCOMPRESSED: True},
        dto=JsonBody[NewReservation],
        return_dto=None,
        operation_class=KeyedOperation,
        responses=answers(
            {201: (Reservation, "Held"), 200: (Reservation, "This order already holds this reservation")},
            404,
            409,
            413,
            422,
            role=Role.CLERK,
        ),
    )
    async def create(self, request: Request, data: JSONBody[dict[str, Any] | None] = None) -> JsonAnswer:
        raw, reservations = data or {}, services_of(request).reservations  # a hot route: no dependency

        wanted = parse_reservation(raw)

        async def run(key: Key | None) -> Held:
            return await reservations.reserve(wanted, key, within=request.user.location)

        return await once(request, raw, Held, run)

    @get(
        "/",
        operation_id="listReservations",
        operation_class=ApiOperation,
        responses=answers({200: (ReservationList, "The reservations, newest first, a page at a time")}),
    )
    async def index(
        self,
        reservations: NamedDependency[ReservationService],
        sku: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        location: Annotated[str | None, Parameter(description="only the holds naming this location")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500, description="at most this many in a page")] = 500,
        after: Annotated[str | None, Parameter(description="The `next` of the previous page")] = None,
    ) -> dict[str, Any]:
        """Newest first. An order system reconciling its holds (after a crash, say) reads every page:
        each answer's `next` (null on the last) is the `after` of the following one."""
        found = await reservations.listing(
            sku, _status(status), limit + 1, location=location or None, before=_reservation_id(after)
        )
        following = str(found[limit - 1].id) if len(found) > limit else None
        return {"items": [reservation_view(r) for r in found[:limit]], "next": following}

    @post(
        "/{reservation_id:int}/confirm",
        operation_id="confirmReservation",
        status_code=200,
        opt={"role": Role.CLERK, UNCOMPRESSED: True},
        dto=JsonBody[Confirmation],
        return_dto=None,
        operation_class=KeyedOperation,
        responses=answers(
            {200: (ConfirmedReservation, "Confirmed: the reservation and the sale it recorded")},
            404,
            409,
            413,
            422,
            role=Role.CLERK,
        ),
    )
    async def confirm(
        self,
        reservation_id: FromPath[int],
        request: Request,
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> JsonAnswer:
        raw, reservations = data or {}, services_of(request).reservations  # a hot route: no dependency

        price = parse_confirm(raw)

        async def run(key: Key | None) -> Confirmed:
            return await reservations.confirm(reservation_id, price, key, within=request.user.location)

        return await once(request, {**raw, "confirm": reservation_id}, Confirmed, run)

    @post(
        "/{reservation_id:int}/cancel",
        operation_id="cancelReservation",
        status_code=200,
        opt={"role": Role.CLERK, UNCOMPRESSED: True},
        operation_class=KeyedOperation,
        responses=answers({200: (Reservation, "Cancelled")}, 404, 409, 422, role=Role.CLERK),
    )
    async def cancel(
        self, reservation_id: FromPath[int], request: Request, reservations: NamedDependency[ReservationService]
    ) -> JsonAnswer:
        async def run(key: Key | None) -> ReservationRecord:
            return await reservations.cancel(reservation_id, key, within=request.user.location)

        return await once(request, {"cancel": reservation_id}, ReservationRecord, run)
