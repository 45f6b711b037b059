from __future__ import annotations

import secrets
from datetime import datetime, tzinfo
from typing import Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template
from litestar_htmx import HTMXRequest

from app.domain.access import Role
from app.domain.errors import DomainError, FieldError, InvalidInput, NotFound
from app.domain.rules import Reason, TxType
from app.domain.voids import VoidFacts, VoidRefused, refuse_void
from app.intake.fields import misread_barcode
from app.services import idempotency
from app.services.accounts import Identity
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.outcomes import Change
from app.services.products import ProductService
from app.services.records import ProductRecord
from app.web.auth import allow_recording, scope_of
from app.web.errors import status_of
from app.web.idempotent import recorded_body
from app.web.pages.forms import form_data, page, problem, see_other
from app.web.pages.ledger_forms import date_changed, local_input, raw_patch, raw_transaction
from app.web.pages.places import entry_types, places_for
from app.web.pages.products import ledger_context
from app.web.views import product_view, transaction_view
from app.web.voiding import entry_scopes, void_as


def effect(change: Change) -> dict[str, Any]:
    """Before → after of the figures a manager checks before saving a change to history."""
    before, after = product_view(change.product.before), product_view(change.product.after)
    return {k: (before[k], after[k]) for k in ("on_hand", "average_cost", "realized_pl", "inventory_value")}


# What the entry form shows for each type: a hidden field's leftover value was not entered.
_HIDDEN_FOR = {"reason": lambda kind: kind != "ADJUST", "unit_price": lambda kind: kind == "COUNT"}
_ALWAYS_SHOWN = {"sku", "type", "quantity", "unit_price", "at", "note"}


def shown_fields(form: dict[str, Any]) -> dict[str, Any]:
    """The entry form as the user saw it: Reason only for ADJUST, no Unit price for COUNT, and the
    Date as proposed when it names the same moment (Chromium drops ":00" seconds from the value)."""
    kind = str(form.get("type") or "").upper()
    shown = {k: (None if k in _HIDDEN_FOR and _HIDDEN_FOR[k](kind) else v) for k, v in form.items()}
    at, proposed = shown.get("at"), shown.get("at_default")
    if at and proposed and at != proposed and not date_changed(shown):
        shown["at"] = proposed  # left as proposed: "now", stamped at commit
    return shown


def entry_problem(refused: Exception, form: dict[str, Any]) -> dict[str, Any]:
    """A rejection for the entry form: beside its field when that field is on screen, else on top."""
    if isinstance(refused, PermissionDeniedException):
        return {"message": refused.detail, "fields": {}, "status": 403}
    assert isinstance(refused, DomainError)
    error = problem(refused)
    shown = _ALWAYS_SHOWN | ({"reason"} if str(form.get("type") or "").upper() == "ADJUST" else set())
    shown |= {"location"} if "location" in form else set()  # the form has a Location while there are several
    error["unshown"] = any(name not in shown for name in error["fields"])
    error["status"] = status_of(refused)  # the API's: 409, 404, 403 (another location), else 400
    return error


async def product_named(products: ProductService, text: str | None) -> ProductRecord:
    """The product a Product field names: its SKU or its barcode."""
    if not text:
        raise InvalidInput([FieldError("sku", "is required: scan a barcode, or type a SKU or part of a name")])
    found = await products.by_code(text)
    if found is None and (misread := misread_barcode(text)) is not None:
        raise InvalidInput([FieldError("sku", misread)])
    if found is None:
        # Part of a name, typed and sent (the Record button, or a page without scripts): name the
        # products it matches, whose SKU the user can type, rather than point at suggestions not shown.
        matches = [s.product for s in await products.suggest(text, limit=4)]
        if matches:
            named = "; ".join(f"{p.sku} ({p.name})" for p in matches[:3]) + ("; …" if len(matches) > 3 else "")
            raise InvalidInput([FieldError("sku", f"{text[:64]!r} is not a SKU or barcode; did you mean {named}? "
                                                  "Type its SKU, or pick it from the suggestions")])  # fmt: skip
        raise InvalidInput([FieldError("sku", f"no product has the SKU or barcode {text[:64]!r}, nor a name "
                                              "with those words")])  # fmt: skip
    return found


def _with_void_rule(entry: dict[str, Any], me: Identity, now: datetime, zone: tzinfo) -> dict[str, Any]:
    """One of the user's recent entries, with whether they may still void it (and why not)."""
    facts = VoidFacts(entry["created_at"], recorded_by_caller=True, changed_since=entry["edited"])
    try:
        if me.role < Role.MANAGER:
            refuse_void(entry["id"], entry["at"], facts, now=now, zone=zone)
    except VoidRefused as refused:
        return {**entry, "voidable": False, "why_not": "; ".join(refused.extra["reasons"])}
    return {**entry, "voidable": True}


class TransactionPages(Controller):
    path = "/transactions"
    include_in_schema = False
    opt = {"role": Role.VIEWER}  # a handler that names its own role needs that one instead

    # --- the entry form (the counter) ---------------------------------------------------------

    @get("/new", opt={"role": Role.CLERK})
    async def new(
        self,
        products: NamedDependency[ProductService],
        request: HTMXRequest,
        ledger: NamedDependency[LedgerService],
        sku: FromQuery[str | None] = None,
        done: FromQuery[int | None] = None,
        voided: FromQuery[int | None] = None,
    ) -> Template:  # fmt: skip
        if done is not None:
            recorded, _ = await ledger.row(done)
            product = await products.get(recorded.sku)
            again = {"sku": recorded.sku, "type": recorded.entry.type.value, "location": recorded.entry.location}
            return await self._entry(products, request, ledger, again, done=transaction_view(recorded),
                                     product=product_view(product))  # fmt: skip
        extra: dict[str, Any] = {}
        if voided is not None and (before := await ledger.voided(voided)):
            extra = {"voided": before, "voided_product": product_view(await products.get(before["sku"]))}
        form: dict[str, Any] = {"sku": sku or ""}
        chosen = await products.by_code(sku) if sku else None
        if chosen is not None:  # a suggestion followed without JavaScript: ready for one more click
            form |= {"sku": chosen.sku, "quantity": "1", "unit_price": product_view(chosen)["sell_price"] or "",
                     "location": chosen.default_location}  # fmt: skip
        return await self._entry(products, request, ledger, form, **extra)

    @get("/suggest", opt={"role": Role.CLERK})
    async def suggest(self, products: NamedDependency[ProductService], sku: FromQuery[str] = "") -> Template:
        """The Product field's suggestions as you type: an HTML fragment for htmx (SKU, barcode or name)."""
        found = await products.suggest(sku) if sku.strip() else []
        shown = [{**product_view(s.product), "exact": s.exact} for s in found]
        misread = None if shown else misread_barcode(sku)  # a scan read wrong: say so, not just "no product"
        return page("transactions/_suggestions.html", suggestions=shown, q=sku.strip(), misread=misread)

    @post("/new", opt={"role": Role.CLERK})
    async def record(
        self, products: NamedDependency[ProductService], request: HTMXRequest, ledger: NamedDependency[LedgerService]
    ) -> Template | Redirect:
        """A double-click sends the same idempotency key twice: the second gets the first's answer."""
        form = shown_fields(await form_data(request))
        me: Identity = request.user
        fields = {k: v for k, v in form.items() if k not in ("idempotency_key", "csrf_token")}
        key = idempotency.key_for(form.get("idempotency_key"), fields, scope_of(me))

        async def run(key: Key | None) -> Change:
            raw = raw_transaction(form)
            product = await product_named(products, raw["sku"])
            raw["sku"] = product.sku  # a barcode names its product
            if raw["type"] == "SELL" and raw["unit_price"] is None and product.sell_price is not None:
                raw["unit_price"] = str(product.sell_price)  # the product's sell price is the default
            data = ledger.parse(raw)
            allow_recording(me, ledger, data)
            return await ledger.record(data, key=key, within=me.location)

        try:
            answer = await idempotency.once(ledger.db, key, Change, run)  # a repeat: the first's change, or its refusal
            return await self._answer_recorded(products, request, ledger, form, recorded_body(answer.result()))
        except (DomainError, PermissionDeniedException) as refused:
            error = entry_problem(refused, form)
            status = 200 if request.htmx else error.pop("status")
            return await self._entry(products, request, ledger, form, status, error=error)

    @post("/{tx_id:int}/void", opt={"role": Role.CLERK})
    async def void(
        self,
        products: NamedDependency[ProductService],
        request: HTMXRequest,
        tx_id: FromPath[int],
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        """A clerk's own entry of the last 10 minutes, dated today, undone (audited as a void)."""
        me: Identity = request.user
        error: dict[str, Any]
        try:
            undone = await void_as(me, ledger, tx_id)
            row, change = undone.row, undone.change
        except NotFound:
            error = {"message": f"Transaction {tx_id} is no longer there: it was already voided or deleted.",
                     "fields": {}, "status": 404}  # fmt: skip
        except (DomainError, PermissionDeniedException) as refused:
            error = entry_problem(refused, {})
        else:
            if not request.htmx:
                return see_other(f"/transactions/new?voided={tx_id}")
            voided = {**transaction_view(row), "name": change.product.after.name}
            return await self._entry(products, request, ledger, {"sku": row.sku}, voided=voided,
                                     voided_product=product_view(change.product.after))  # fmt: skip
        status = 200 if request.htmx else error.pop("status")
        return await self._entry(products, request, ledger, {}, status, error=error)

    async def _answer_recorded(
        self,
        products: ProductService,
        request: HTMXRequest,
        ledger: LedgerService,
        form: dict[str, Any],
        answer: dict[str, Any],
    ) -> Template | Redirect:
        if not request.htmx:
            return see_other(f"/transactions/new?done={answer['id']}")
        keep = {"sku": answer["sku"], "type": form.get("type", ""), "location": answer["location"]}
        return await self._entry(products, request, ledger, keep, done=answer, product=answer["product"])

    async def _entry(
        self,
        products: ProductService,
        request: HTMXRequest,
        ledger: LedgerService,
        form: dict[str, Any],
        status: int = 200,
        **extra: Any,
    ) -> Template:
        me: Identity = request.user
        now = ledger.clock()
        recent = [_with_void_rule(r, me, now, ledger.zone) for r in await ledger.recent_entries(entry_scopes(me))]
        done: dict[str, Any] | None = extra.get("done")
        chosen = None
        if extra.get("error") and form.get("sku"):
            found = await products.by_code(str(form["sku"]).strip())
            chosen = product_view(found) if found else None
        places = await places_for(ledger.locations, me)
        if places.choice and not form.get("location") and (home := chosen or extra.get("product")):
            form = {**form, "location": home["default_location"]}  # the product's own place, proposed
        return page(
            "transactions/new.html",
            status,
            section="record",
            f=form,
            at_default=local_input(now, ledger.zone),
            key=secrets.token_urlsafe(16),
            types=entry_types(me.role >= Role.MANAGER),
            reasons=[r.value for r in Reason],
            **places.as_context(),
            suggestions=[],
            q="",
            chosen=chosen,
            recent=recent,
            voidable_done=done is not None and any(r["id"] == done["id"] and r["voidable"] for r in recent),
            **extra,
        )

    # --- editing a row of a timeline ----------------------------------------------------------

    @get("/{tx_id:int}/row")
    async def row(self, request: HTMXRequest, tx_id: FromPath[int], ledger: NamedDependency[LedgerService]) -> Template:
        found, _ = await ledger.row(tx_id)
        places = await places_for(ledger.locations, request.user)
        return page("products/_tx_row.html", t=transaction_view(found), **places.as_context())

    @get("/{tx_id:int}/edit", opt={"role": Role.MANAGER})
    async def edit(
        self, request: HTMXRequest, tx_id: FromPath[int], ledger: NamedDependency[LedgerService]
    ) -> Template:
        return await self._edit_row(request, ledger, tx_id, {})

    @post("/{tx_id:int}/preview", opt={"role": Role.MANAGER})
    async def preview(
        self, request: HTMXRequest, tx_id: FromPath[int], ledger: NamedDependency[LedgerService]
    ) -> Template:
        form = await form_data(request)
        try:
            me: Identity = request.user
            change = await ledger.edit(tx_id, raw_patch(form), actor=me.username, dry_run=True, within=me.location)
        except DomainError as refused:
            return await self._edit_row(request, ledger, tx_id, form, error=problem(refused))
        return await self._edit_row(request, ledger, tx_id, form, preview=effect(change))

    @post("/{tx_id:int}", opt={"role": Role.MANAGER})
    async def save(
        self,
        products: NamedDependency[ProductService],
        request: HTMXRequest,
        tx_id: FromPath[int],
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        form = await form_data(request)
        try:
            me: Identity = request.user
            await ledger.edit(tx_id, raw_patch(form), actor=me.username, within=me.location)
        except DomainError as refused:
            return await self._edit_row(request, ledger, tx_id, form, in_place=True, error=problem(refused))
        return await self._back_to_ledger(products, request, ledger, form.get("page_sku", ""))

    async def _edit_row(
        self,
        request: HTMXRequest,
        ledger: LedgerService,
        tx_id: int,
        form: dict[str, Any],
        in_place: bool = False,
        **extra: Any,
    ) -> Template:
        """The row's edit form; `in_place`: htmx puts it in the row's place (a refusal of what it sent)."""
        found, _ = await ledger.row(tx_id)
        t = transaction_view(found)
        at = local_input(found.entry.at, ledger.zone)
        places = await places_for(ledger.locations, request.user)
        types = entry_types(True) + ([TxType.TRANSFER.value] if places.several or t["type"] == TxType.TRANSFER else [])
        context = {"t": t, "f": form, "at_value": form.get("at") or at, "at_default": form.get("at_default") or at,
                   "types": types, "reasons": [r.value for r in Reason],
                   "page_sku": form.get("page_sku") or found.sku, **places.as_context(), **extra}  # fmt: skip
        if request.htmx and in_place:
            return page("products/_tx_edit.html", retarget=f"#tx-{tx_id}", reswap="outerHTML", **context)
        if request.htmx:
            return page("products/_tx_edit.html", **context)
        status = 200 if "error" not in extra else 409
        return page("transactions/edit.html", status, section="dashboard", **context)

    # --- deleting a row -----------------------------------------------------------------------

    @get("/{tx_id:int}/delete", opt={"role": Role.MANAGER})
    async def delete_preview(
        self, request: HTMXRequest, tx_id: FromPath[int], ledger: NamedDependency[LedgerService]
    ) -> Template:
        found, _ = await ledger.row(tx_id)
        places = await places_for(ledger.locations, request.user)
        context: dict[str, Any] = {"t": transaction_view(found), "page_sku": found.sku, **places.as_context()}
        try:
            me: Identity = request.user
            context["preview"] = effect(await ledger.delete(tx_id, actor=me.username, dry_run=True, within=me.location))
        except DomainError as refused:
            context["error"] = problem(refused)
        if request.htmx:
            return page("products/_tx_delete.html", **context)
        return page("transactions/delete.html", section="dashboard", **context)

    @post("/{tx_id:int}/delete", opt={"role": Role.MANAGER})
    async def delete(
        self,
        products: NamedDependency[ProductService],
        request: HTMXRequest,
        tx_id: FromPath[int],
        ledger: NamedDependency[LedgerService],
    ) -> Template | Redirect:
        form = await form_data(request)
        found, _ = await ledger.row(tx_id)
        try:
            me: Identity = request.user
            await ledger.delete(tx_id, actor=me.username, within=me.location)
        except DomainError as refused:
            places = await places_for(ledger.locations, request.user)
            context: dict[str, Any] = {"t": transaction_view(found), "page_sku": found.sku, "error": problem(refused),
                                       **places.as_context()}  # fmt: skip
            if request.htmx:
                return page("products/_tx_delete.html", retarget=f"#tx-{tx_id}", reswap="outerHTML", **context)
            return page("transactions/delete.html", 409, section="dashboard", **context)
        return await self._back_to_ledger(products, request, ledger, form.get("page_sku") or found.sku)

    async def _back_to_ledger(
        self, products: ProductService, request: HTMXRequest, ledger: LedgerService, sku: str
    ) -> Template | Redirect:
        if request.htmx:
            return page("products/_ledger.html", **await ledger_context(await products.get(sku), ledger))
        return see_other(f"/products/{sku}")
