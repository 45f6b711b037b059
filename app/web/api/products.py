from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, patch, post
from litestar.params import Parameter

from app.domain.access import Role
from app.services import history, products
from app.services.idempotency import Key
from app.services.records import ProductRecord
from app.settings import Settings
from app.web.idempotent import once
from app.web.json_body import json_object
from app.web.views import product_view, transaction_view


class ProductController(Controller):
    path = "/api/products"
    tags = ["products"]
    opt = {"role": Role.VIEWER}

    @post("/", status_code=201, opt={"role": Role.MANAGER})
    async def create(self, request: Request) -> Response[Any]:
        raw = await json_object(request)

        async def run(key: Key | None) -> ProductRecord:
            return await products.create(raw, key)

        return await once(request, raw, ProductRecord, run)

    @get("/")
    async def index(
        self, q: str | None = None, category: str | None = None, status: str | None = None
    ) -> dict[str, Any]:
        return {"items": [product_view(p) for p in await products.listing(q, category, status)]}

    @get("/{sku:str}")
    async def show(self, sku: str) -> dict[str, Any]:
        return product_view(await products.get(sku))

    @patch("/{sku:str}", opt={"role": Role.MANAGER})
    async def update(self, sku: str, request: Request) -> dict[str, Any]:
        return product_view(await products.update(sku, await json_object(request)))

    @get("/{sku:str}/transactions")
    async def transactions(
        self,
        sku: str,
        limit: Annotated[int, Parameter(ge=1, le=5000)] = 500,
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> dict[str, Any]:
        product = await products.get(sku)
        rows = await history.timeline(product, limit, offset)
        return {"items": [transaction_view(r) for r in rows], "total": product.tx_count}

    @get("/{sku:str}/monthly")
    async def monthly(self, sku: str, settings: Settings) -> dict[str, Any]:
        product = await products.get(sku)
        return {"items": await history.monthly(product, settings.timezone)}
