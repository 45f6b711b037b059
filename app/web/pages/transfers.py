"""The transfer page: a manager moves units of a product from one location to another (SPEC §2
"Stock locations"). The form shows the stock at both places for the product chosen (an htmx fragment
as the fields change; the whole page on a plain POST refused). Goods in transit are two transfers
through a transit location: ship into it, receive out of it later."""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.domain.errors import DomainError
from app.services import idempotency
from app.services.accounts import Identity
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.locations import LocationService
from app.services.outcomes import Change
from app.services.products import ProductService
from app.web.auth import allow_recording, scope_of
from app.web.idempotent import recorded_body
from app.web.pages.forms import form_data, page, see_other
from app.web.pages.ledger_forms import local_input, raw_transaction
from app.web.pages.places import Places, places_for
from app.web.pages.transactions import entry_problem, product_named
from app.web.views import product_view, transaction_view

SHOWN = {"sku", "quantity", "location", "to_location", "at", "note"}  # the fields the form has


def stock_at_both(product: dict[str, Any] | None, origin: str | None, destination: str | None) -> dict[str, Any]:
    """What the form shows of the product chosen: on hand and available at each end of the move."""
    if product is None:
        return {}
    here = {x["location"]: x for x in product["locations"]}
    empty = {"on_hand": 0, "reserved": 0, "available": 0}
    ends = [(code, here.get(code, {**empty, "location": code})) for code in (origin, destination) if code]
    return {"product": product, "ends": ends}


class TransferPages(Controller):
    path = "/transfers"
    include_in_schema = False
    opt = {"role": Role.MANAGER}

    @get("/new")
    async def new(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        ledger: NamedDependency[LedgerService],
        sku: FromQuery[str | None] = None,
        location: FromQuery[str | None] = None,
        to_location: FromQuery[str | None] = None,
        done: FromQuery[int | None] = None,
    ) -> Template:
        places = await places_for(locations, request.user)
        form: dict[str, Any] = {"sku": sku or "", "location": location, "to_location": to_location}
        extra: dict[str, Any] = {}
        if done is not None:
            moved, _ = await ledger.row(done)
            form = {"sku": moved.sku, "location": moved.entry.location, "to_location": moved.entry.to_location}
            extra["done"] = {**transaction_view(moved), "name": (await products.get(moved.sku)).name}
        return await self._form(products, ledger, places, form, **extra)

    @get("/stock")
    async def stock(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        sku: FromQuery[str] = "",
        location: FromQuery[str | None] = None,
        to_location: FromQuery[str | None] = None,
    ) -> Template:
        """The stock at both places of the product the form names: a fragment for htmx."""
        places = await places_for(locations, request.user)
        found = await products.by_code(sku) if sku.strip() else None
        chosen = product_view(found) if found else None
        missing = sku.strip()[:64] if sku.strip() and found is None else None
        ends = _ends(places, location, to_location)
        return page("transfers/_stock.html", missing=missing, **stock_at_both(chosen, *ends))

    @post("/new")
    async def move(
        self,
        products: NamedDependency[ProductService],
        locations: NamedDependency[LocationService],
        request: HTMXRequest,
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        """A double-click sends the same idempotency key twice: the second gets the first's answer."""
        form = await form_data(request)
        me: Identity = request.user
        places = await places_for(locations, me)
        fields = {k: v for k, v in form.items() if k not in ("idempotency_key", "csrf_token")}
        key = idempotency.key_for(form.get("idempotency_key"), {**fields, "type": "TRANSFER"}, scope_of(me))

        async def run(key: Key | None) -> Change:
            raw = raw_transaction({**form, "type": "TRANSFER"})
            raw["sku"] = (await product_named(products, raw["sku"])).sku  # a barcode names its product
            data = ledger.parse(raw)
            allow_recording(me, ledger, data)
            return await ledger.record(data, key=key, within=me.location)

        try:
            answer = recorded_body((await idempotency.once(ledger.db, key, Change, run)).result())
        except (DomainError, PermissionDeniedException) as refused:
            error = entry_problem(refused, {})
            error["unshown"] = any(name not in SHOWN for name in error["fields"])
            status = 200 if request.htmx else error.pop("status")
            return await self._form(products, ledger, places, form, status, error=error)
        if not request.htmx:
            return see_other(f"/transfers/new?done={answer['id']}")
        kept = {"sku": answer["sku"], "location": answer["location"], "to_location": answer["to_location"]}
        done = {**answer, "name": answer["product"]["name"]}
        return await self._form(products, ledger, places, kept, done=done)

    async def _form(
        self,
        products: ProductService,
        ledger: LedgerService,
        places: Places,
        form: dict[str, Any],
        status: int = 200,
        **extra: Any,
    ) -> Template:
        origin, destination = _ends(places, form.get("location"), form.get("to_location"))
        found = await products.by_code(str(form["sku"]).strip()) if form.get("sku") else None
        chosen = product_view(found) if found else None
        if chosen and not form.get("location"):
            origin = places.known(chosen["default_location"]) or origin
        return page(
            "transfers/new.html",
            status,
            section="transfer",
            f={**form, "location": origin, "to_location": destination},
            at_default=local_input(ledger.clock(), ledger.zone),
            key=secrets.token_urlsafe(16),
            **places.as_context(),
            **stock_at_both(chosen, origin, destination),
            **extra,
        )


def _ends(places: Places, origin: str | None, destination: str | None) -> tuple[str | None, str | None]:
    """Where a move starts and ends as the form proposes them: what it names, else the user's own
    location (or MAIN) as the source and the first other location as the destination."""
    start = places.known(origin) or places.mine or (places.codes[0] if places.codes else None)
    end = places.known(destination) or next((c for c in places.codes if c != start), None)
    return start, end
