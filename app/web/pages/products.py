from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.domain.access import Role
from app.domain.errors import DomainError
from app.domain.rules import Reason, TxType
from app.services import history, idempotency, products
from app.services.idempotency import Repeated
from app.services.ledger import LedgerService
from app.services.records import ProductRecord
from app.services.views import product_view, transaction_view
from app.settings import Settings
from app.web.auth import allow_recording, requires, scope_of, signed_in
from app.web.chart import stock_chart
from app.web.pages.forms import form_data, is_htmx, page, problem, see_other
from app.web.pages.ledger_forms import local_input, raw_transaction

PAGE_SIZE = 50


async def ledger_context(product: ProductRecord, ledger: LedgerService, page_no: int = 1) -> dict[str, Any]:
    """What the #ledger section shows: summary, the add form, a page of the timeline (newest first)."""
    page_no = max(1, page_no)
    rows = await history.timeline(product, PAGE_SIZE, (page_no - 1) * PAGE_SIZE, newest_first=True)
    now = local_input(ledger.clock(), ledger.zone)
    return {
        "p": product_view(product),
        "rows": [transaction_view(r) for r in rows],
        "page_no": page_no,
        "pages": max(1, -(-product.tx_count // PAGE_SIZE)),
        "types": [t.value for t in TxType],
        "reasons": [r.value for r in Reason],
        "at_default": now,
        "key": secrets.token_urlsafe(16),
    }


class ProductPages(Controller):
    path = "/products"
    include_in_schema = False
    guards = [requires(Role.VIEWER)]

    @get("/new", guards=[requires(Role.MANAGER)])
    async def new(self) -> Template:
        return page("products/form.html", section="dashboard", p={}, creating=True)

    @post("/new", guards=[requires(Role.MANAGER)])
    async def create(self, request: Request) -> Template | Redirect:
        form = await form_data(request)
        try:
            created = await products.create(_product_fields(form, with_sku=True))
        except DomainError as refused:
            return page("products/form.html", 400, section="dashboard", p=form, creating=True, error=problem(refused))
        return see_other(f"/products/{created.sku}")

    @get("/{sku:str}")
    async def show(self, sku: str, settings: Settings, ledger: LedgerService, page_no: int = 1) -> Template:
        product = await products.get(sku)
        chart = stock_chart(await history.stock_points(product), settings.timezone)
        months = await history.monthly(product, settings.timezone)
        return page("products/show.html", section="dashboard", chart=chart, months=months,
                    **await ledger_context(product, ledger, page_no))  # fmt: skip

    @get("/{sku:str}/settings", guards=[requires(Role.MANAGER)])
    async def settings_form(self, sku: str) -> Template:
        return page("products/form.html", section="dashboard", p=product_view(await products.get(sku)), creating=False)

    @post("/{sku:str}/settings", guards=[requires(Role.MANAGER)])
    async def update(self, sku: str, request: Request) -> Template | Redirect:
        form = await form_data(request)
        try:
            await products.update(sku, _product_fields(form, with_sku=False))
        except DomainError as refused:
            shown = {**product_view(await products.get(sku)), **form}
            return page("products/form.html", 400, section="dashboard", p=shown, creating=False, error=problem(refused))
        return see_other(f"/products/{sku}")

    @post("/{sku:str}/transactions", guards=[requires(Role.CLERK)])
    async def add(self, sku: str, request: Request, ledger: LedgerService) -> Template | Redirect:
        form = await form_data(request)
        me = signed_in(request)
        fields = {k: v for k, v in form.items() if k not in ("idempotency_key", "csrf_token")}
        key = idempotency.key_for(form.get("idempotency_key"), {**fields, "sku": sku}, scope_of(me))
        try:
            if key is None or await idempotency.stored(key) is None:
                data = ledger.parse(raw_transaction(form, sku=sku))
                allow_recording(me, ledger, data)
                await ledger.record(data, key=key)
        except Repeated:
            pass  # the same form was already recorded: show the ledger as it now stands
        except DomainError as refused:
            product = await products.get(sku)
            context = await ledger_context(product, ledger)
            if is_htmx(request):
                return page("products/_ledger.html", add_error=problem(refused), add_form=form, **context)
            return page("products/show.html", 400, section="dashboard", add_error=problem(refused), add_form=form,
                        chart=None, months=[], **context)  # fmt: skip
        if is_htmx(request):
            return page("products/_ledger.html", **await ledger_context(await products.get(sku), ledger))
        return see_other(f"/products/{sku}")


def _product_fields(form: dict[str, Any], *, with_sku: bool) -> dict[str, Any]:
    names = ["name", "category", "brand", "low_stock_threshold", "overstock_threshold", "count_interval_days",
             "barcode", "sell_price"]  # fmt: skip
    fields = {k: (form.get(k) if form.get(k) not in ("",) else None) for k in names}
    if with_sku:
        fields["sku"] = (form.get("sku") or "").strip()
    return fields
