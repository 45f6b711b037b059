from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, patch, post

from app.domain.access import Role
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.outcomes import Change, Voided
from app.web.auth import actor_of, allow_recording, signed_in
from app.web.idempotent import once
from app.web.json_body import json_object
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

    @post("/")
    async def create(self, request: Request, ledger: LedgerService, dry_run: bool = False) -> Response[Any]:
        """A clerk records BUY and SELL dated today; other types and dates need a manager."""
        me = signed_in(request)
        raw = await json_object(request)
        if dry_run:
            data = ledger.parse(raw)
            allow_recording(me, ledger, data)
            return Response(_dry_run_view(await ledger.record(data, dry_run=True)), status_code=200)

        async def run(key: Key | None) -> Change:
            data = ledger.parse(raw)
            allow_recording(me, ledger, data)
            return await ledger.record(data, key=key)

        return await once(request, raw, Change, run)

    @patch("/{tx_id:int}", opt={"role": Role.MANAGER})
    async def update(
        self, tx_id: int, request: Request, ledger: LedgerService, dry_run: bool = False
    ) -> dict[str, Any]:
        change = await ledger.edit(tx_id, await json_object(request), actor=actor_of(request), dry_run=dry_run)
        return _dry_run_view(change) if dry_run else committed_view(change)

    @post("/{tx_id:int}/void", status_code=200)
    async def void(self, tx_id: int, request: Request, ledger: LedgerService) -> Response[Any]:
        """Undo a counter mistake: a clerk voids their own transaction recorded in the last 10 minutes and
        dated today (403 naming why otherwise); a manager any a delete could take. Audited as "void"."""
        me = signed_in(request)

        async def run(key: Key | None) -> Voided:
            return await void_as(me, ledger, tx_id, key)

        return await once(request, {"void": tx_id}, Voided, run)

    @delete("/{tx_id:int}", status_code=200, opt={"role": Role.MANAGER})
    async def remove(self, tx_id: int, request: Request, ledger: LedgerService, dry_run: bool = False) -> Response[Any]:
        change = await ledger.delete(tx_id, actor=actor_of(request), dry_run=dry_run)
        if dry_run:
            return Response(_dry_run_view(change), status_code=200)
        return Response(None, status_code=204)
