from __future__ import annotations

import secrets
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Redirect, Template

from app.domain.access import Role
from app.domain.errors import Conflict, DomainError
from app.domain.rules import Reason, TxType
from app.services import idempotency, products
from app.services.changes import Change
from app.services.idempotency import Repeated
from app.services.ledger import LedgerService
from app.services.views import committed_view, product_view, transaction_view
from app.web.auth import actor_of, allow_recording, requires, scope_of, signed_in
from app.web.pages.forms import form_data, is_htmx, page, problem, see_other
from app.web.pages.ledger_forms import local_input, raw_patch, raw_transaction
from app.web.pages.products import ledger_context


def effect(change: Change) -> dict[str, Any]:
    """Before → after of the figures a manager checks before saving a change to history."""
    before, after = product_view(change.product.before), product_view(change.product.after)
    return {k: (before[k], after[k]) for k in ("on_hand", "average_cost", "realized_pl", "inventory_value")}


class TransactionPages(Controller):
    path = "/transactions"
    include_in_schema = False
    guards = [requires(Role.VIEWER)]  # guards add up: each handler names what it needs beyond this

    # --- the entry form -----------------------------------------------------------------------

    @get("/new", guards=[requires(Role.CLERK)])
    async def new(self, ledger: LedgerService, sku: str | None = None, done: int | None = None) -> Template:
        if done is None:
            return await self._entry(ledger, {"sku": sku or ""})
        recorded, _ = await ledger.row(done)
        product = await products.get(recorded.sku)
        return await self._entry(ledger, {"sku": recorded.sku, "type": recorded.entry.type.value},
                                 done=transaction_view(recorded), product=product_view(product))  # fmt: skip

    @post("/new", guards=[requires(Role.CLERK)])
    async def record(self, request: Request, ledger: LedgerService) -> Template | Redirect:
        """A double-click sends the same idempotency key twice: the second gets the first's answer."""
        form = await form_data(request)
        me = signed_in(request)
        fields = {k: v for k, v in form.items() if k not in ("idempotency_key", "csrf_token")}
        key = idempotency.key_for(form.get("idempotency_key"), fields, scope_of(me))
        try:
            earlier = await idempotency.stored(key) if key else None
            if earlier is None:
                try:
                    data = ledger.parse(raw_transaction(form))
                    allow_recording(me, ledger, data)
                    change = await ledger.record(data, key=key)
                    return await self._recorded(request, ledger, form, committed_view(change))
                except Repeated as repeat:
                    earlier = await idempotency.stored(repeat.key)
            assert earlier is not None
            if earlier.status_code != 201:
                raise Conflict(earlier.body["detail"], earlier.body.get("extra"))
            return await self._recorded(request, ledger, form, earlier.body)
        except DomainError as refused:
            status = 200 if is_htmx(request) else (409 if isinstance(refused, Conflict) else 400)
            return await self._entry(ledger, form, status, error=problem(refused))

    async def _recorded(
        self, request: Request, ledger: LedgerService, form: dict[str, Any], answer: dict[str, Any]
    ) -> Template | Redirect:
        if not is_htmx(request):
            return see_other(f"/transactions/new?done={answer['id']}")
        keep = {"sku": form.get("sku", ""), "type": form.get("type", "")}
        return await self._entry(ledger, keep, done=answer, product=answer["product"])

    async def _entry(self, ledger: LedgerService, form: dict[str, Any], status: int = 200, **extra: Any) -> Template:
        now = local_input(ledger.clock(), ledger.zone)
        return page(
            "transactions/new.html",
            status,
            section="record",
            f=form,
            at_default=now,
            key=secrets.token_urlsafe(16),
            types=[t.value for t in TxType],
            reasons=[r.value for r in Reason],
            products=await products.names(),
            **extra,
        )

    # --- editing a row of a timeline ----------------------------------------------------------

    @get("/{tx_id:int}/row")
    async def row(self, tx_id: int, ledger: LedgerService) -> Template:
        found, _ = await ledger.row(tx_id)
        return page("products/_tx_row.html", t=transaction_view(found))

    @get("/{tx_id:int}/edit", guards=[requires(Role.MANAGER)])
    async def edit(self, request: Request, tx_id: int, ledger: LedgerService) -> Template:
        return await self._edit_row(request, ledger, tx_id, {})

    @post("/{tx_id:int}/preview", guards=[requires(Role.MANAGER)])
    async def preview(self, request: Request, tx_id: int, ledger: LedgerService) -> Template:
        form = await form_data(request)
        try:
            change = await ledger.edit(tx_id, raw_patch(form), actor=actor_of(request), dry_run=True)
        except DomainError as refused:
            return await self._edit_row(request, ledger, tx_id, form, error=problem(refused))
        return await self._edit_row(request, ledger, tx_id, form, preview=effect(change))

    @post("/{tx_id:int}", guards=[requires(Role.MANAGER)])
    async def save(self, request: Request, tx_id: int, ledger: LedgerService) -> Template | Redirect:
        form = await form_data(request)
        try:
            await ledger.edit(tx_id, raw_patch(form), actor=actor_of(request))
        except DomainError as refused:
            response = await self._edit_row(request, ledger, tx_id, form, error=problem(refused))
            response.headers.update({"HX-Retarget": f"#tx-{tx_id}", "HX-Reswap": "outerHTML"})
            return response
        return await self._back_to_ledger(request, ledger, form.get("page_sku", ""))

    async def _edit_row(
        self, request: Request, ledger: LedgerService, tx_id: int, form: dict[str, Any], **extra: Any
    ) -> Template:
        found, _ = await ledger.row(tx_id)
        t = transaction_view(found)
        at = local_input(found.entry.at, ledger.zone)
        context = {"t": t, "f": form, "at_value": form.get("at") or at, "at_default": form.get("at_default") or at,
                   "types": [x.value for x in TxType], "reasons": [r.value for r in Reason],
                   "page_sku": form.get("page_sku") or found.sku, **extra}  # fmt: skip
        if is_htmx(request):
            return page("products/_tx_edit.html", **context)
        status = 200 if "error" not in extra else 409
        return page("transactions/edit.html", status, section="dashboard", **context)

    # --- deleting a row -----------------------------------------------------------------------

    @get("/{tx_id:int}/delete", guards=[requires(Role.MANAGER)])
    async def delete_preview(self, request: Request, tx_id: int, ledger: LedgerService) -> Template:
        found, _ = await ledger.row(tx_id)
        context: dict[str, Any] = {"t": transaction_view(found), "page_sku": found.sku}
        try:
            context["preview"] = effect(await ledger.delete(tx_id, actor=actor_of(request), dry_run=True))
        except DomainError as refused:
            context["error"] = problem(refused)
        if is_htmx(request):
            return page("products/_tx_delete.html", **context)
        return page("transactions/delete.html", section="dashboard", **context)

    @post("/{tx_id:int}/delete", guards=[requires(Role.MANAGER)])
    async def delete(self, request: Request, tx_id: int, ledger: LedgerService) -> Template | Redirect:
        form = await form_data(request)
        found, _ = await ledger.row(tx_id)
        try:
            await ledger.delete(tx_id, actor=actor_of(request))
        except DomainError as refused:
            context: dict[str, Any] = {"t": transaction_view(found), "page_sku": found.sku, "error": problem(refused)}
            if is_htmx(request):
                response = page("products/_tx_delete.html", **context)
                response.headers.update({"HX-Retarget": f"#tx-{tx_id}", "HX-Reswap": "outerHTML"})
                return response
            return page("transactions/delete.html", 409, section="dashboard", **context)
        return await self._back_to_ledger(request, ledger, form.get("page_sku") or found.sku)

    async def _back_to_ledger(self, request: Request, ledger: LedgerService, sku: str) -> Template | Redirect:
        if is_htmx(request):
            return page("products/_ledger.html", **await ledger_context(await products.get(sku), ledger))
        return see_other(f"/products/{sku}")
