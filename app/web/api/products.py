from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from app.domain.access import Role
from app.domain.errors import FieldError, InvalidInput
from app.domain.ledger import TimelineKey
from app.domain.timeline_cursor import cursor_of, key_of
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.services.products import ProductService
from app.services.records import ProductRecord
from app.services.turns import Turns
from app.settings import Settings
from app.web.api.schemas import MonthList, NewProduct, Product, ProductList, ProductPatch, TransactionPage
from app.web.api.schemas_openapi import ApiOperation, KeyedOperation, answers
from app.web.idempotent import once
from app.web.json_answer import JsonAnswer
from app.web.json_body import JsonBody
from app.web.views import product_view, transaction_view

# Pages of the product list, and of a product's timeline, made at once per process. Each is a read and
# then milliseconds of the event loop (views and JSON for up to 5,000 products or rows): 80 clients
# reading the list at once held the pooled connections and queued a sale behind all their work (sales
# p50 571 ms, a 503 at pages of 5,000); two at a time, the readers wait for each other and a sale does
# not (p50 61 ms; the lists read per second unchanged). `python -m bench.listing`, docs/performance.md.
# 30 readers of 5,000-row timeline pages at once put other products' sales at p50 2.0 s (a trial).
LIST_TURNS = Turns(2)


class ProductController(Controller):
    path = "/api/products"
    tags = ["products"]
    opt = {"role": Role.VIEWER}

    @post(
        "/",
        operation_id="createProduct",
        status_code=201,
        opt={"role": Role.MANAGER},
        dto=JsonBody[NewProduct],
        return_dto=None,
        operation_class=KeyedOperation,
        responses=answers({201: (Product, "The product, created")}, 409, 413, 422, role=Role.MANAGER),
    )
    async def create(
        self, products: NamedDependency[ProductService], request: Request, data: JSONBody[dict[str, Any] | None] = None
    ) -> JsonAnswer:
        raw = data or {}

        async def run(key: Key | None) -> ProductRecord:
            return await products.create(raw, key)

        return await once(request, raw, ProductRecord, run)

    @get(
        "/",
        operation_id="listProducts",
        operation_class=ApiOperation,
        responses=answers(
            {200: (ProductList, "A page of the products, by SKU (`next`: the following page's `after`)")}
        ),
    )
    async def index(
        self,
        products: NamedDependency[ProductService],
        q: FromQuery[str | None] = None,
        category: FromQuery[str | None] = None,
        status: Annotated[str | None, Parameter(description="ok, low or out")] = None,
        limit: Annotated[int, Parameter(ge=1, le=5000, description="Products on this page")] = 500,
        after: Annotated[str | None, Parameter(description="The `next` of the previous page")] = None,
    ) -> JsonAnswer:
        async with LIST_TURNS():  # read, viewed and encoded in turns (see LIST_TURNS)
            page = await products.listing(q, category, status, limit=limit, after=after)
            body = {"items": [product_view(p) for p in page.items], "total": page.total, "next": page.next}
            return JsonAnswer(body, 200)

    @get(
        "/{sku:str}",
        operation_id="getProduct",
        operation_class=ApiOperation,
        responses=answers({200: (Product, "The product")}, 404),
    )
    async def show(self, products: NamedDependency[ProductService], sku: FromPath[str]) -> dict[str, Any]:
        return product_view(await products.get(sku))

    @patch(
        "/{sku:str}",
        operation_id="updateProduct",
        opt={"role": Role.MANAGER},
        dto=JsonBody[ProductPatch],
        return_dto=None,
        operation_class=ApiOperation,
        responses=answers({200: (Product, "The product, changed")}, 404, 409, 413, role=Role.MANAGER),
    )
    async def update(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        return product_view(await products.update(sku, data or {}))

    @get(
        "/{sku:str}/transactions",
        operation_id="listProductTransactions",
        operation_class=ApiOperation,
        responses=answers({200: (TransactionPage, "The product's transactions, oldest first, a page at a time")}, 404),
    )
    async def transactions(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        ledger: NamedDependency[LedgerService],
        limit: Annotated[int, Parameter(ge=1, le=5000)] = 500,
        offset: Annotated[int, Parameter(ge=0, description="Rows to skip (slow deep in a long ledger: use after)")] = 0,
        after: Annotated[str | None, Parameter(description="The `next` of the previous page")] = None,
    ) -> JsonAnswer:
        product = await products.get(sku)
        if after is not None and offset:
            raise InvalidInput([FieldError("offset", "cannot be combined with after")])
        async with LIST_TURNS():  # read, viewed and encoded in turns, as the product list's pages
            if offset:  # kept for clients written before cursors: OFFSET reads every row it skips
                rows = await ledger.timeline(product, limit, offset)
                more = offset + len(rows) < product.tx_count
            else:
                page = await ledger.timeline_page(product, limit, _timeline_key(after))
                rows, more = page.rows, page.more
            following = cursor_of(rows[-1].entry.key) if more and rows else None
            body = {"items": [transaction_view(r) for r in rows], "total": product.tx_count, "next": following}
            return JsonAnswer(body, 200)

    @get(
        "/{sku:str}/monthly",
        operation_id="getProductMonthly",
        operation_class=ApiOperation,
        responses=answers({200: (MonthList, "The product's figures per month of the business time zone")}, 404),
    )
    async def monthly(
        self,
        products: NamedDependency[ProductService],
        sku: FromPath[str],
        settings: NamedDependency[Settings],
        ledger: NamedDependency[LedgerService],
    ) -> dict[str, Any]:
        product = await products.get(sku)
        return {"items": await ledger.monthly(product, settings.timezone)}


def _timeline_key(after: str | None) -> TimelineKey | None:
    if after is None:
        return None
    try:
        return key_of(after)
    except ValueError:
        raise InvalidInput([FieldError("after", "must be the next of a previous page")]) from None
