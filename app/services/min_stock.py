"""A location's `min_stock` for a product (SPEC §2 "Stock locations"): a replenishment hint that the
replenishment report reads, not an alert. Set by a manager; null clears it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.errors import FieldErrors, NotFound
from app.domain.immutable import immutable
from app.domain.rules import MAX_QUANTITY
from app.intake import fields
from app.persistence import locations as location_rows
from app.persistence import products as product_rows
from app.persistence.database import Database

FIELDS = ("min_stock",)


@immutable
class MinStock:
    sku: str
    location: str
    min_stock: int | None
    on_hand: int  # the product's stock at the location now


def parse_min_stock(raw: Mapping[str, Any]) -> int | None:
    """`{"min_stock": N}` (a whole number, 0 or more) or `{"min_stock": null}` (none)."""
    errors = FieldErrors()
    for given in raw:
        if given not in FIELDS:
            errors.add(given, "is not a known field")
    value = None
    if "min_stock" not in raw:
        errors.add("min_stock", "is required (null clears it)")
    elif raw["min_stock"] is not None:
        value = fields.integer(errors, "min_stock", raw["min_stock"])
        if value is not None and not 0 <= value < MAX_QUANTITY:
            errors.add("min_stock", f"must be 0 or more and less than {MAX_QUANTITY:,}")
    errors.raise_if_any()
    return value


class MinStocks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, sku: str, code: str, raw: Mapping[str, Any]) -> MinStock:
        """Set (or, with null, clear) the product's min_stock at the location: 404 for an unknown
        product or location, 400 naming `min_stock` for a bad value."""
        value = parse_min_stock(raw)
        async with self.db.unit_of_work() as conn:
            product = await product_rows.by_sku(conn, sku)
            if product is None:
                raise NotFound(f"No product with SKU {sku!r}", {"sku": sku})
            if await location_rows.by_code(conn, code) is None:
                raise NotFound(f"No location with code {code!r}", {"field": "location", "location": code})
            await location_rows.set_min_stock(conn, product.id, code, value)
        return MinStock(sku, code, value, product.stocks.get(code, 0))
