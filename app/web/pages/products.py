from __future__ import annotations

import secrets
from datetime import tzinfo
from typing import Any
from urllib.parse import quote

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.domain.errors import DomainError, NotFound
from app.domain.ledger import TimelineKey
from app.domain.rules import Reason
from app.domain.timeline_cursor import cursor_of, key_of
from app.services import idempotency
from app.services.accounts import Identity
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.outcomes import Change
from app.services.products import ProductService
from app.services.records import LedgerRow, ProductRecord
from app.settings import Settings
from app.web.auth import allow_recording, scope_of
from app.web.chart import stock_chart
from app.web.errors import status_of
from app.web.idempotent import recorded_body
from app.web.pages.forms import form_data, page, problem, see_other
from app.web.pages.ledger_forms import local_input, raw_transaction
from app.web.pages.places import entry_types, places_for
from app.web.views import product_view, transaction_view

PAGE_SIZE = 50
MONTHS_SHOWN = 12  # a year on the product page; /reports/monthly?sku= has them all


async def ledger_context(
    product: ProductRecord, ledger: LedgerService, page_no: int = 1, before: str | None = None, after: str | None = None
) -> dict[str, Any]:
    """What the summary, the add form and a page of the timeline (newest first) show. The pager's links
    name the page by the key of a row next to it (`before`/`after`, see timeline_cursor), so any page
    is one index range scan; a bare `page_no` (a bookmark, a form) is still answered, by OFFSET."""
    pages = max(1, -(-product.tx_count // PAGE_SIZE))
    page_no = max(1, page_no if before or after else min(page_no, pages))  # past the end: the last page
    rows: list[LedgerRow] = []
    more = False
    if before and (key := _key(before)) and page_no > 1:
        found = await ledger.timeline_page(product, PAGE_SIZE, key, newest_first=True)
        rows, more = found.rows, found.more
    elif after and (key := _key(after)) and page_no > 1:
        found = await ledger.timeline_page(product, PAGE_SIZE, key)
        rows, more = found.rows[::-1], True
        if not found.more:  # the newest rows: page 1, always full
            rows, page_no = [], 1
    elif page_no > 1:
        rows = await ledger.timeline(product, PAGE_SIZE, (page_no - 1) * PAGE_SIZE, newest_first=True)
        more = page_no * PAGE_SIZE < product.tx_count
    if not rows and page_no == 1:
        found = await ledger.timeline_page(product, PAGE_SIZE, newest_first=True)
        rows, more = found.rows, found.more
    now = local_input(ledger.clock(), ledger.zone)
    places = await places_for(ledger.locations, None)  # the user's own location: templates read it (me.location)
    return {
        **places.as_context(),
        "p": product_view(product),
        "rows": [transaction_view(r) for r in rows],
        "page_no": page_no,
        "pages": max(pages, page_no + more),
        "older": cursor_of(rows[-1].entry.key) if more and rows else None,
        "newer": cursor_of(rows[0].entry.key) if page_no > 1 and rows else None,
        "types": entry_types(True),  # _add.html keeps BUY and SELL alone for a clerk
        "reasons": [r.value for r in Reason],
        "at_default": now,
        "key": secrets.token_urlsafe(16),
    }


async def page_context(
    product: ProductRecord, ledger: LedgerService, zone: tzinfo, page_no: int = 1, *place: str | None
) -> dict[str, Any]:
    """Every section of the product page: the ledger's, the stock chart and the monthly table (the
    latest months; the monthly report has every one)."""
    chart = stock_chart(await ledger.stock_points(product), zone)
    months = await ledger.latest_months(product, zone, MONTHS_SHOWN)
    return {"chart": chart, "months": months.months, "earlier_months": months.earlier,
            **await ledger_context(product, ledger, page_no, *place)}  # fmt: skip


def _key(cursor: str) -> TimelineKey | None:
    """The key a pager link names (None for nonsense: the page falls back to its number)."""
    try:
        return key_of(cursor)
    except ValueError:
        return None


def _page_no(raw: Any) -> int:
    """The timeline page a form or link names (1 when it names none, or nonsense)."""
    text = str(raw or "")
    return int(text) if text.isascii() and text.isdigit() and 0 < len(text) < 7 else 1


SAVED = {"created": "Product created. Record its first purchase below.", "settings": "Settings saved."}


class ProductPages(Controller):
    path = "/products"
    include_in_schema = False
    opt = {"role": Role.VIEWER}

    @get("/new", opt={"role": Role.MANAGER})
    async def new(self, ledger: NamedDependency[LedgerService]) -> Template:
        return page("products/form.html", section="dashboard", p={}, creating=True, **await _places(ledger))

    @post("/new", opt={"role": Role.MANAGER})
    async def create(
        self, products: NamedDependency[ProductService], request: HTMXRequest, ledger: NamedDependency[LedgerService]
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            created = await products.create(_product_fields(form, with_sku=True))
        except DomainError as refused:
            return page("products/form.html", 400, section="dashboard", p=form, creating=True, error=problem(refused),
                        **await _places(ledger))  # fmt: skip
        return see_other(f"/products/{quote(created.sku, safe='')}?done=created")

    @get("/{sku:str}")
    async def show(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        settings: NamedDependency[Settings],
        ledger: NamedDependency[LedgerService],
        page_no: FromQuery[int] = 1,
        before: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """`done`: what the form that led here did (its redirect says so), confirmed at the top."""
        product = await products.get(sku)
        context = await page_context(product, ledger, settings.timezone, page_no, before, after)
        return page("products/show.html", section="dashboard", notice=SAVED.get(done or ""), **context)

    @get("/{sku:str}/sections")
    async def sections(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        settings: NamedDependency[Settings],
        ledger: NamedDependency[LedgerService],
        page_no: FromQuery[int] = 1,
        saved: FromQuery[int | None] = None,
        before: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None,
    ) -> Template:
        """Every section that follows the ledger, for product.js to put in place after a change made here
        or anywhere (`saved` names a transaction just edited here: the answer confirms it)."""
        product = await products.get(sku)
        context = await page_context(product, ledger, settings.timezone, page_no, before, after)
        return page("products/_sections.html", saved=await _saved_row(ledger, saved, sku), **context)

    @get("/{sku:str}/settings", opt={"role": Role.MANAGER})
    async def settings_form(
        self, products: NamedDependency[ProductService], sku: FromPath[str], ledger: NamedDependency[LedgerService]
    ) -> Template:
        return page("products/form.html", section="dashboard", p=product_view(await products.get(sku)), creating=False,
                    **await _places(ledger))  # fmt: skip

    @post("/{sku:str}/settings", opt={"role": Role.MANAGER})
    async def update(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        request: HTMXRequest,
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            await products.update(sku, _product_fields(form, with_sku=False))
        except DomainError as refused:
            shown = {**product_view(await products.get(sku)), **form}
            return page("products/form.html", 400, section="dashboard", p=shown, creating=False, error=problem(refused),
                        **await _places(ledger))  # fmt: skip
        return see_other(f"/products/{quote(sku, safe='')}?done=settings")

    @post("/{sku:str}/transactions", opt={"role": Role.CLERK})
    async def add(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        request: HTMXRequest,
        settings: NamedDependency[Settings],
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        """With htmx the answer replaces #add: a fresh form with a confirmation naming what was recorded,
        or (400/404/409) the form as sent with each error beside its field. A refusal of the caller's
        role (403) is answered as any other, and shown by feedback.js."""
        form = await form_data(request)
        me: Identity = request.user
        page_no = _page_no(form.get("page_no"))
        fields = {k: v for k, v in form.items() if k not in ("idempotency_key", "csrf_token")}
        key = idempotency.key_for(form.get("idempotency_key"), {**fields, "sku": sku}, scope_of(me))

        async def run(key: Key | None) -> Change:
            data = ledger.parse(raw_transaction(form, sku=sku))
            allow_recording(me, ledger, data)
            return await ledger.record(data, key=key, within=me.location)

        try:
            # The same form sent again (a double click) gets the first's change, or its refusal.
            done = recorded_body((await idempotency.once(ledger.db, key, Change, run)).result())
        except DomainError as refused:
            status = status_of(refused)
            product = await products.get(sku)
            if request.htmx:
                context = await ledger_context(product, ledger, page_no)
                return page("products/_add.html", status, add_error=problem(refused), add_form=form, **context)
            context = await page_context(product, ledger, settings.timezone, page_no)
            return page("products/show.html", status, section="dashboard", add_error=problem(refused), add_form=form,
                        **context)  # fmt: skip
        if request.htmx:
            context = await ledger_context(await products.get(sku), ledger, page_no)
            kept = {"type": form.get("type") or ""}  # the next one is often of the same type
            return page("products/_add.html", add_form=kept, done=done, **context)
        return see_other(f"/products/{quote(sku, safe='')}" + (f"?page_no={page_no}" if page_no > 1 else ""))


async def _places(ledger: LedgerService) -> dict[str, Any]:
    return (await places_for(ledger.locations, None)).as_context()


async def _saved_row(ledger: LedgerService, tx_id: int | None, sku: str) -> dict[str, Any] | None:
    """A transaction of this product, to confirm it on the page (None when it is gone or another's)."""
    if tx_id is None:
        return None
    try:
        found, _ = await ledger.row(tx_id)
    except NotFound:
        return None
    return transaction_view(found) if found.sku == sku else None


def _product_fields(form: dict[str, Any], *, with_sku: bool) -> dict[str, Any]:
    names = ["name", "category", "brand", "low_stock_threshold", "overstock_threshold", "count_interval_days",
             "barcode", "sell_price"]  # fmt: skip
    fields = {k: (form.get(k) if form.get(k) not in ("",) else None) for k in names}
    if form.get("default_location"):  # the form asks only while there are several locations
        fields["default_location"] = form["default_location"]
    if with_sku:
        fields["sku"] = (form.get("sku") or "").strip()
    return fields
