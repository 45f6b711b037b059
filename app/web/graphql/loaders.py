"""Products by SKU, loaded together: every SKU a request asks for (`inventoriesBySkus`, a result's
`inventory`) is read by one statement per tick of the request's resolvers (a DataLoader), never one
per product."""

from __future__ import annotations

from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.services.products import ProductService
from app.services.records import ProductRecord
from app.web.views import product_view

MAX_BATCH = 5000  # SKUs per statement


class ProductLoader(DataLoader[str, dict | None]):  # type: ignore[type-arg]
    """Each SKU's product view (as the REST API answers it), or None for an unknown SKU."""

    def __init__(self, products: ProductService) -> None:
        self.products = products
        super().__init__(load_fn=self._load, max_batch_size=MAX_BATCH)

    async def _load(self, skus: Sequence[str]) -> list[dict | None]:  # type: ignore[type-arg]
        found: dict[str, ProductRecord] = {p.sku: p for p in await self.products.by_skus(list(skus))}
        return [product_view(found[s]) if s in found else None for s in skus]
