"""Stock locations (SPEC §2 "Stock locations"): list and create them, rename them, and the stock of one."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter

from app.domain.access import Role
from app.persistence.locations import LocationRecord
from app.services.idempotency import Key
from app.services.locations import LocationService
from app.services.records import ProductRecord
from app.web.api.schemas import Location, LocationList, LocationPatch, LocationStockPage, NewLocation
from app.web.api.schemas_openapi import ApiOperation, KeyedOperation, answers
from app.web.idempotent import once
from app.web.json_answer import JsonAnswer
from app.web.json_body import JsonBody
from app.web.views import location_view


def stock_at_view(p: ProductRecord, code: str) -> dict[str, Any]:
    on_hand, held = p.stocks.get(code, 0), p.held.get(code, 0)
    return {"sku": p.sku, "name": p.name, "on_hand": on_hand, "reserved": held, "available": on_hand - held}


class LocationController(Controller):
    path = "/api/locations"
    tags = ["locations"]
    opt = {"role": Role.VIEWER}

    @get(
        "/",
        operation_id="listLocations",
        operation_class=ApiOperation,
        responses=answers({200: (LocationList, "Every location, MAIN first, then by code")}),
    )
    async def index(self, locations: NamedDependency[LocationService]) -> dict[str, Any]:
        return {"items": [location_view(x) for x in await locations.all()]}

    @post(
        "/",
        operation_id="createLocation",
        status_code=201,
        opt={"role": Role.MANAGER},
        dto=JsonBody[NewLocation],
        return_dto=None,
        operation_class=KeyedOperation,
        responses=answers({201: (Location, "The location, created")}, 409, 413, 422, role=Role.MANAGER),
    )
    async def create(
        self,
        locations: NamedDependency[LocationService],
        request: Request,
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> JsonAnswer:
        raw = data or {}

        async def run(key: Key | None) -> LocationRecord:
            return await locations.create(raw, key)

        return await once(request, raw, LocationRecord, run)

    @patch(
        "/{code:str}",
        operation_id="updateLocation",
        opt={"role": Role.MANAGER},
        dto=JsonBody[LocationPatch],
        return_dto=None,
        operation_class=ApiOperation,
        responses=answers({200: (Location, "The location, changed")}, 404, 413, role=Role.MANAGER),
    )
    async def update(
        self,
        locations: NamedDependency[LocationService],
        code: FromPath[str],
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        return location_view(await locations.update(code, data or {}))

    @get(
        "/{code:str}/stock",
        operation_id="getLocationStock",
        operation_class=ApiOperation,
        responses=answers({200: (LocationStockPage, "The stock of every product at the location, by SKU")}, 404),
    )
    async def stock(
        self,
        locations: NamedDependency[LocationService],
        code: FromPath[str],
        limit: Annotated[int, Parameter(ge=1, le=5000)] = 500,
        after: Annotated[str | None, Parameter(description="The `next` of the previous page (a SKU)")] = None,
    ) -> dict[str, Any]:
        found = await locations.products_at(code, limit + 1, after)
        page = found[:limit]
        following = page[-1].sku if len(found) > limit else None
        return {"location": code, "items": [stock_at_view(p, code) for p in page], "next": following}
