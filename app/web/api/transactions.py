from __future__ import annotations

from typing import Any

from litestar import Controller, Response, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from app.domain.access import Role
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.outcomes import Change, Voided
from app.web.api.schemas import DryRun, NewTransaction, RecordedTransaction, TransactionPatch, VoidedTransaction
from app.web.api.schemas_openapi import ApiOperation, KeyedOperation, answers
from app.web.app_services import services_of
from app.web.auth import SignedInRequest, allow_recording
from app.web.compression import UNCOMPRESSED
from app.web.idempotent import once
from app.web.json_answer import JsonAnswer
from app.web.json_body import JsonBody
from app.web.views import committed_view, product_view, transaction_view
from app.web.voiding import void_as


def _dry_run_view(change: Change) -> dict[str, Any]:
    return {
        "dry_run": True,
        "transaction": transaction_view(change.row) if change.row else None,
        "before": product_view(change.product.before),
        "after": product_view(change.product.after),
        "products": [
            {"sku": c.after.sku, "before": product_view(c.before), "after": product_view(c.after)}
            for c in change.products
        ],
    }


class TransactionController(Controller):
    path = "/api/transactions"
    tags = ["transactions"]
    opt = {"role": Role.CLERK}

    @post(
        "/",
        operation_id="recordTransaction",
        opt={UNCOMPRESSED: True},
        dto=JsonBody[NewTransaction],
        return_dto=None,
        operation_class=KeyedOperation,
        responses=answers(
            {
                201: (RecordedTransaction, "Recorded: the transaction and its product after it"),
                200: (DryRun, "With ?dry_run=true: what it would do; nothing was saved"),
            },
            404,
            409,
            413,
            422,
            role=Role.CLERK,
        ),
    )
    async def create(
        self, request: SignedInRequest, dry_run: FromQuery[bool] = False, data: JSONBody[dict[str, Any] | None] = None
    ) -> JsonAnswer:
        """A clerk records BUY and SELL dated today; other types and dates need a manager."""
        me, ledger = request.user, services_of(request).ledger  # a hot route: no dependency to resolve
        raw = data or {}
        if dry_run:
            entered = ledger.parse(raw)
            allow_recording(me, ledger, entered)
            return JsonAnswer(_dry_run_view(await ledger.record(entered, dry_run=True, within=me.location)), 200)

        async def run(key: Key | None) -> Change:
            entered = ledger.parse(raw)
            allow_recording(me, ledger, entered)
            return await ledger.record(entered, key=key, within=me.location)

        return await once(request, raw, Change, run)

    @patch(
        "/{tx_id:int}",
        operation_id="editTransaction",
        opt={"role": Role.MANAGER},
        dto=JsonBody[TransactionPatch],
        return_dto=None,
        operation_class=ApiOperation,
        responses=answers(
            {
                200: (
                    RecordedTransaction | DryRun,
                    "Changed (or, with ?dry_run=true, what it would do): the transaction and its product after it",
                )
            },
            404,
            409,
            413,
            role=Role.MANAGER,
        ),
    )
    async def update(
        self,
        tx_id: FromPath[int],
        request: SignedInRequest,
        ledger: NamedDependency[LedgerService],
        dry_run: FromQuery[bool] = False,
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        me = request.user
        change = await ledger.edit(tx_id, data or {}, actor=me.username, dry_run=dry_run, within=me.location)
        return _dry_run_view(change) if dry_run else committed_view(change)

    @post(
        "/{tx_id:int}/void",
        operation_id="voidTransaction",
        status_code=200,
        operation_class=KeyedOperation,
        responses=answers(
            {200: (VoidedTransaction, "Voided: the transaction as it was, and its product now")},
            404,
            409,
            422,
            role=Role.CLERK,
        ),
    )
    async def void(
        self, tx_id: FromPath[int], request: SignedInRequest, ledger: NamedDependency[LedgerService]
    ) -> JsonAnswer:
        """Undo a counter mistake: a clerk voids their own transaction recorded in the last 10 minutes and
        dated today (403 naming why otherwise); a manager any a delete could take. Audited as "void"."""
        me = request.user

        async def run(key: Key | None) -> Voided:
            return await void_as(me, ledger, tx_id, key)

        return await once(request, {"void": tx_id}, Voided, run)

    @delete(
        "/{tx_id:int}",
        operation_id="deleteTransaction",
        status_code=200,
        opt={"role": Role.MANAGER},
        operation_class=ApiOperation,
        responses=answers(
            {204: (None, "Deleted"), 200: (DryRun, "With ?dry_run=true: what it would do; nothing was saved")},
            404,
            409,
            role=Role.MANAGER,
        ),
    )
    async def remove(
        self,
        tx_id: FromPath[int],
        request: SignedInRequest,
        ledger: NamedDependency[LedgerService],
        dry_run: FromQuery[bool] = False,
    ) -> Response[Any]:
        me = request.user
        change = await ledger.delete(tx_id, actor=me.username, dry_run=dry_run, within=me.location)
        if dry_run:
            return Response(_dry_run_view(change), status_code=200)
        return Response(None, status_code=204)
