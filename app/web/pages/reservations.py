from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.display import Display
from app.domain.access import LocationRefused, Role
from app.domain.errors import DomainError, FieldError, InvalidInput, NotFound
from app.domain.reservations import Status
from app.intake.fields import misread_barcode
from app.intake.requests import parse_confirm, parse_reservation
from app.services import idempotency
from app.services.idempotency import Key
from app.services.outcomes import Confirmed, EarlierAnswer, Held
from app.services.products import ProductService
from app.services.records import ReservationRecord
from app.services.reservations import ReservationService
from app.web.auth import scope_of
from app.web.errors import status_of
from app.web.pages.forms import form_data, page, problem, see_other
from app.web.pages.places import places_for
from app.web.views import reservation_view

# How long a phone order may hold stock: the choices of the form (the API takes any number of seconds
# up to 7 days). The first is the API's default.
HOLD_CHOICES = [(900, "15 minutes"), (3600, "1 hour"), (4 * 3600, "4 hours"), (86400, "1 day"),
                (2 * 86400, "2 days"), (7 * 86400, "7 days")]  # fmt: skip
ACTIVE_SHOWN = 500  # the newest active holds the page lists
RECENT_SHOWN = 50  # the newest ended ones
FORM_FIELDS = ("sku", "quantity", "order_ref", "ttl_seconds", "location")  # Location: while there are several


def duration(seconds: int) -> str:
    """A time left as people say it: "45 s", "12 min", "3 h 5 min", "6 d 23 h" (minutes dropped
    from a day on, seconds from two minutes on; rounded down)."""
    if seconds <= 0:
        return "expired"
    if seconds < 120:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def time_left(r: ReservationRecord, now: datetime) -> str:
    return duration(int((r.expires_at - now).total_seconds()))


def reservation_row(r: ReservationRecord, now: datetime, confirmed: Confirmed | None = None) -> dict[str, Any]:
    """A row of the page; with `confirmed` (a confirmed hold's outcome, asked for while there are
    several locations) each sale it recorded, with its location: a hold naming no location may have
    sold from several, one SELL each."""
    sales = [{"id": s.entry.id, "quantity": s.entry.quantity, "location": s.entry.location}
             for s in confirmed.sales] if confirmed else []  # fmt: skip
    return {**reservation_view(r), "time_left": time_left(r, now), "sales": sales}


def sold(confirmed: Confirmed, shown: Display, several_locations: bool) -> str:
    """What a confirm sold, as the page says it: "a sale of 3 TEA at 5.00", and while there are
    several locations where from: "sales of 3 TEA (1 from MAIN, 2 from STORE) at 5.00"."""
    held, sales = confirmed.reservation, confirmed.sales
    price = shown.exact(held.unit_price)  # as the row shows it: 12.345 is not rounded to 12.34
    if not several_locations or not sales:
        return f"a sale of {shown.units(held.quantity)} {held.sku} at {price}"
    if len(sales) == 1:
        return f"a sale of {shown.units(held.quantity)} {held.sku} from {sales[0].entry.location} at {price}"
    parts = ", ".join(f"{shown.units(s.entry.quantity)} from {s.entry.location}" for s in sales)
    return f"sales of {shown.units(held.quantity)} {held.sku} ({parts}) at {price}"


class ReservationPages(Controller):
    path = "/reservations"
    include_in_schema = False
    opt = {"role": Role.VIEWER}

    @get("/")
    async def index(
        self,
        reservations: NamedDependency[ReservationService],
        sku: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> Template:
        return await self._page(reservations, sku or None, status or None)

    async def _page(
        self, reservations: ReservationService, sku: str | None, status: str | None, **extra: Any
    ) -> Template:
        now = reservations.clock()
        wanted = Status(status) if status in {s.value for s in Status} else None
        listed = wanted in (None, Status.ACTIVE)
        active = await reservations.listing(sku, Status.ACTIVE, ACTIVE_SHOWN) if listed else []
        # A full list says how many there are (a flash sale holds thousands): filtering by product shows the rest.
        active_total = await reservations.count_active(sku) if len(active) == ACTIVE_SHOWN else len(active)
        # Read as ended in SQL: hundreds of newer active holds must not crowd the ended ones out.
        recent = [] if wanted is Status.ACTIVE else await reservations.listing(sku, wanted, RECENT_SHOWN, ended=True)
        places = await _places(reservations)
        sales = await reservations.sales_of(recent) if places["several_locations"] else {}
        return page(
            "reservations/index.html",
            section="reservations",
            active=[reservation_row(r, now) for r in active],
            active_total=active_total,
            recent=[reservation_row(r, now, sales.get(r.id)) for r in recent],
            sku=sku or "",
            status=status or "",
            statuses=[s.value for s in Status],
            **_form_context(extra.pop("form", None)),
            **places,
            **extra,
        )

    # --- holding stock for an order (a phone order) -------------------------------------------

    @post("/", opt={"role": Role.CLERK})
    async def reserve(
        self,
        request: HTMXRequest,
        reservations: NamedDependency[ReservationService],
        products: NamedDependency[ProductService],
        display: NamedDependency[Display],
    ) -> Template | Redirect:
        """Like POST /api/reservations, from a form: a double-click sends the same idempotency key twice
        and the second gets the first's answer; each refusal is shown beside the field it concerns. The
        Product field takes a barcode too, as the entry and transfer forms do."""
        form = {k: (v or "").strip() for k, v in (await form_data(request)).items()}
        fields = {k: form.get(k, "") for k in FORM_FIELDS}

        async def run(key: Key | None) -> Held:
            entered = dict(fields)
            if entered["sku"] and (found := await products.by_code(entered["sku"])) is not None:
                entered["sku"] = found.sku  # a barcode names its product
            elif entered["sku"] and (misread := misread_barcode(entered["sku"])) is not None:
                raise InvalidInput([FieldError("sku", misread)])
            elif entered["sku"]:  # neither a SKU nor a barcode: the field takes both, and says so
                code = entered["sku"]
                raise NotFound(f"No product has the SKU or barcode {code[:64]!r}", {"field": "sku", "sku": code})
            return await reservations.reserve(parse_reservation(entered), key, within=request.user.location)

        try:
            key = idempotency.key_for(form.get("idempotency_key"), fields, scope_of(request.user))
            # a repeat: the first's hold, or its refusal
            held = (await idempotency.once(reservations.ledger.db, key, Held, run)).result()
            if isinstance(held, EarlierAnswer):  # kept before keys kept outcomes: it names the reservation
                found = await _find(reservations, held.body["sku"], held.body["id"])
                held = Held(found, created=held.status_code == 201)
            return await self._reserved(request, reservations, held.reservation, held.created, display)
        except DomainError as refused:
            error = _form_problem(refused)
            if request.htmx:
                return page("reservations/_reserve.html", **_form_context(fields), **await _places(reservations),
                            error=error)  # fmt: skip
            response = await self._page(reservations, None, None, form=fields, reserve_error=error)
            response.status_code = status_of(refused)  # the API's: 409, 404, 403 (another location), else 400
            return response

    async def _reserved(
        self,
        request: HTMXRequest,
        reservations: ReservationService,
        held: ReservationRecord,
        created: bool,
        shown: Display,
    ) -> Template | Redirect:
        if not request.htmx:
            return see_other("/reservations")
        r = reservation_row(held, reservations.clock())
        if created:
            where = f" at {held.location}" if held.location else ""
            # For as long as was asked ("15 min"), not the time left a moment later ("14 min").
            held_for = duration(round((held.expires_at - held.created_at).total_seconds()))
            said = (f"Reserved {shown.units(held.quantity)} of {held.sku}{where} for order {held.order_ref}, "
                    f"held for {held_for}, until {shown.moment(held.expires_at)}.")  # fmt: skip
        elif held.status is Status.ACTIVE:
            said = (f"Order {held.order_ref} already holds {shown.units(held.quantity)} of {held.sku}: "
                    "nothing new was reserved.")  # fmt: skip
        else:  # an order holds a product once: its ended hold is what the reference names
            said = (f"Order {held.order_ref}'s reservation of {shown.units(held.quantity)} {held.sku} is "
                    f"{held.status}: nothing was reserved. Use another order reference to hold it again.")  # fmt: skip
        return page("reservations/_reserve.html", **_form_context(None), **await _places(reservations), done=said,
                    new_row=r if created else None)  # fmt: skip

    # --- confirming and cancelling ------------------------------------------------------------

    @post("/{reservation_id:int}/confirm", opt={"role": Role.CLERK})
    async def confirm(
        self,
        reservation_id: FromPath[int],
        request: HTMXRequest,
        reservations: NamedDependency[ReservationService],
        display: NamedDependency[Display],
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            price = parse_confirm({"unit_price": form.get("unit_price")})
            confirmed = await reservations.confirm(reservation_id, price, within=request.user.location)
        except DomainError as refused:
            return await self._refused(request, reservations, reservation_id, refused, typed=form.get("unit_price"))
        several = (await _places(reservations))["several_locations"]
        held = confirmed.reservation
        what = sold(confirmed, display, several)
        said = f"Confirmed order {held.order_ref}: {what}."
        if confirmed.earlier:  # someone else's confirm came first (another window, the order system)
            said = f"Order {held.order_ref} was already confirmed, and nothing more was sold: {what}."
        return self._done(request, reservations, held, said, confirmed if several else None)

    @post("/{reservation_id:int}/cancel", opt={"role": Role.CLERK})
    async def cancel(
        self,
        reservation_id: FromPath[int],
        request: HTMXRequest,
        reservations: NamedDependency[ReservationService],
        display: NamedDependency[Display],
    ) -> Template | Redirect:
        """With htmx the button has asked "Cancel …?" already (hx-confirm); a plain form gets a page that
        asks, whose button sends `confirmed=yes`."""
        form = await form_data(request)
        if not request.htmx and form.get("confirmed") != "yes":
            found = await _find(reservations, None, reservation_id)
            shown = reservation_row(found, reservations.clock())
            return page("reservations/cancel.html", section="reservations", r=shown)
        try:
            held = await reservations.cancel(reservation_id, within=request.user.location)
        except DomainError as refused:
            return await self._refused(request, reservations, reservation_id, refused)
        said = f"Cancelled order {held.order_ref}: {display.units(held.quantity)} of {held.sku} are available again."
        if held.status is Status.EXPIRED:  # cancelling it changed nothing: it held nothing any more
            said = f"Nothing to cancel: order {held.order_ref}'s reservation of {held.sku} had already expired."
        return self._done(request, reservations, held, said)

    def _done(
        self,
        request: HTMXRequest,
        reservations: ReservationService,
        held: ReservationRecord,
        said: str,
        confirmed: Confirmed | None = None,
    ) -> Template | Redirect:
        """With htmx: the row leaves the Active table and heads the Recent one, and the page says what
        was done. (The row comes first in the answer: htmx puts it at the top of #recent-rows, as the
        HX-Retarget/HX-Reswap headers ask, after removing the row it replaces.)"""
        if not request.htmx:
            return see_other("/reservations")
        now = reservations.clock()
        if held.status is Status.ACTIVE:  # nothing changed (cannot happen on success); keep it in place
            return page("reservations/_row.html", r=reservation_row(held, now))
        shown = reservation_row(held, now, confirmed)
        return page("reservations/_moved.html", r=shown, said=said, several_locations=confirmed is not None,
                    retarget="#recent-rows", reswap="afterbegin")  # fmt: skip

    async def _refused(
        self,
        request: HTMXRequest,
        reservations: ReservationService,
        reservation_id: int,
        refused: DomainError,
        typed: str | None = None,
    ) -> Template:
        """The rejection is shown on the row it concerns, and above the tables: the live tables are
        drawn again as soon as any hold changes (the one that made this confirm fail, most often),
        and the row's message went with them within a second. The row's price box keeps what was
        `typed`, to be corrected rather than typed again."""
        if request.htmx:
            try:
                current = await reservations.get(reservation_id)
            except NotFound:
                pass
            else:
                shown = reservation_row(current, reservations.clock())
                return page("reservations/_refused.html", r=shown, error=problem(refused), typed=typed)
        response = await self._page(
            reservations, None, None, error=problem(refused), error_id=reservation_id, typed=typed
        )
        location = isinstance(refused, LocationRefused)  # a hold where the caller may not record
        response.status_code = 403 if location else 409 if "cannot" in refused.detail else 400
        return response


async def _find(reservations: ReservationService, sku: str | None, reservation_id: int) -> ReservationRecord:
    found = await reservations.get(reservation_id)
    if sku is not None and found.sku != sku:
        raise NotFound(f"No reservation with id {reservation_id}", {"id": reservation_id})
    return found


async def _places(reservations: ReservationService) -> dict[str, Any]:
    """Whether the form asks where to hold (several locations, and a user not limited to one)."""
    return (await places_for(reservations.ledger.locations, None)).as_context()


def _form_context(form: dict[str, Any] | None) -> dict[str, Any]:
    """What the "Hold stock for an order" form shows: the values sent (after a refusal), else none,
    and a new idempotency key each time it is drawn empty."""
    return {"f": form or {}, "key": secrets.token_urlsafe(16), "holds": HOLD_CHOICES}


def _form_problem(refused: DomainError) -> dict[str, Any]:
    """A refusal with each message beside its field: the API's field errors, an unknown product on
    Product, too little stock or another quantity for the same order on Quantity."""
    found = problem(refused)
    if not found["fields"]:
        if refused.extra.get("field") in FORM_FIELDS:
            found["fields"] = {refused.extra["field"]: refused.detail}
        elif "requested" in refused.extra:
            found["fields"] = {"quantity": refused.detail}
    return found
