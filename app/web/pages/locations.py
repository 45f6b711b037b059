"""The locations page: a manager lists the stock locations and adds one (a store, a back room, a
warehouse, or a transit location for goods on the way)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.domain.errors import DomainError
from app.domain.rules import LocationKind
from app.services.locations import LocationService
from app.web.errors import status_of
from app.web.pages.forms import form_data, page, problem, see_other


class LocationPages(Controller):
    path = "/locations"
    include_in_schema = False
    opt = {"role": Role.MANAGER}

    @get("/")
    async def index(self, locations: NamedDependency[LocationService], made: FromQuery[str | None] = None) -> Template:
        return await _page(locations, {}, made=made)

    @post("/")
    async def create(self, locations: NamedDependency[LocationService], request: HTMXRequest) -> Template | Redirect:
        """A plain POST redirects back (a reload adds nothing); htmx gets the page, which it selects from."""
        form = await form_data(request)
        fields = {k: (str(form.get(k) or "").strip() or None) for k in ("code", "name", "kind")}
        try:
            made = await locations.create(fields)
        except DomainError as refused:
            status = 200 if request.htmx else status_of(refused)
            error = problem(refused)
            if not error["fields"] and refused.extra.get("field") == "code":  # the code is taken
                error["fields"]["code"] = refused.detail
            return await _page(locations, form, status, error=error)
        if request.htmx:
            return await _page(locations, {}, made=made.code)
        return see_other(f"/locations?made={made.code}")


async def _page(locations: LocationService, form: dict[str, Any], status: int = 200, **extra: Any) -> Template:
    found = await locations.all()
    rows = [{"code": x.code, "name": x.name, "kind": x.kind.value, "created_at": x.created_at} for x in found]
    made = extra.get("made")
    extra["made"] = next((r for r in rows if r["code"] == made), None) if made else None
    return page("locations/index.html", status, section="locations", locations=rows, f=form,
                kinds=[k.value for k in LocationKind], **extra)  # fmt: skip
