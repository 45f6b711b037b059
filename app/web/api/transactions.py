from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, patch, post

from app.services.changes import Change
from app.services.ledger import LedgerService
from app.services.views import product_view, transaction_view
from app.web.json_body import json_object

ACTOR = "api"  # until users exist, every change is the API's


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


def _committed_view(change: Change) -> dict[str, Any]:
    assert change.row is not None
    return {**transaction_view(change.row), "product": product_view(change.product.after)}


class TransactionController(Controller):
    path = "/api/transactions"
    tags = ["transactions"]

    @post("/")
    async def create(self, request: Request, ledger: LedgerService, dry_run: bool = False) -> Response[dict[str, Any]]:
        data = ledger.parse(await json_object(request))
        change = await ledger.record(data, dry_run=dry_run)
        if dry_run:
            return Response(_dry_run_view(change), status_code=200)
        return Response(_committed_view(change), status_code=201)

    @patch("/{tx_id:int}")
    async def update(
        self, tx_id: int, request: Request, ledger: LedgerService, dry_run: bool = False
    ) -> dict[str, Any]:
        change = await ledger.edit(tx_id, await json_object(request), actor=ACTOR, dry_run=dry_run)
        return _dry_run_view(change) if dry_run else _committed_view(change)

    @delete("/{tx_id:int}", status_code=200)
    async def remove(self, tx_id: int, ledger: LedgerService, dry_run: bool = False) -> Response[Any]:
        change = await ledger.delete(tx_id, actor=ACTOR, dry_run=dry_run)
        if dry_run:
            return Response(_dry_run_view(change), status_code=200)
        return Response(None, status_code=204)
