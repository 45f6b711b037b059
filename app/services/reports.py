"""Stock reports: each is one query (or two), never a query per product."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.errors import NotFound
from app.domain.money import ZERO_MONEY
from app.domain.summary import inventory_value, status
from app.persistence import reports as rows
from app.persistence.database import Database
from app.persistence.records import ProductRecord
from app.services.selfcheck import SelfCheck

# How a product is shown (the web layer's product_view, handed in by create_app).
ProductView = Callable[[ProductRecord], dict[str, Any]]
MONEY_FIELDS = ("revenue", "cogs", "realized_pl", "write_off", "gain")


def totals_of_products(items: list[ProductRecord]) -> dict[str, Any]:
    """Sums of per-product figures; inventory value as the sum of each product's rounded value."""
    on_hand = sum(p.position.stock for p in items)
    reserved = sum(p.reserved for p in items)
    money = {f: sum((getattr(p.totals, f) for p in items), ZERO_MONEY) for f in MONEY_FIELDS}
    value = sum((inventory_value(p.position.stock, p.position.average_cost) for p in items), ZERO_MONEY)
    return {
        "products": len(items),
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "inventory_value": str(value),
        **{f: str(v) for f, v in money.items()},
    }


def _valued(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals are sums of the per-product rounded values (SPEC §2)."""
    return {"products": len(items), "on_hand": sum(i["on_hand"] for i in items),
            "inventory_value": str(sum((Decimal(i["inventory_value"]) for i in items), Decimal("0.00")))}  # fmt: skip


REPORTS = ("summary", "low-stock", "out-of-stock", "overstock", "needs-count", "movers", "by-category", "by-brand",
           "anomalies", "valuation")  # fmt: skip


class ReportService:
    """The reports, on one Database; each product in them as `view` shows it."""

    def __init__(self, db: Database, view: ProductView) -> None:
        self.db = db
        self.view = view
        self.selfcheck = SelfCheck(db)

    async def summary(self) -> dict[str, Any]:
        async with self.db.read_only() as conn:
            items = await rows.every_product(conn)
        statuses = Counter(status(p.position.stock - p.reserved, p.low_stock_threshold).value for p in items)
        return {**totals_of_products(items), "by_status": {s: statuses.get(s, 0) for s in ("ok", "low", "out")}}

    async def by_status(self, wanted: str) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            items = await rows.with_status(conn, wanted)
        return [self.view(p) for p in items]

    async def overstock(self) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            items = await rows.overstocked(conn)
        return [{**self.view(p), "excess": p.position.stock - (p.overstock_threshold or 0)} for p in items]

    async def needs_count(self, now: datetime) -> list[dict[str, Any]]:
        """Never counted, or last counted longer ago than the product's interval."""
        async with self.db.read_only() as conn:
            items = await rows.due_for_count(conn, now)
        return [
            {
                **self.view(p),
                "days_since_count": None if p.last_counted_at is None else (now - p.last_counted_at).days,
            }
            for p in items
        ]

    async def movers(self, now: datetime, days: int, fast: bool, limit: int) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            sold = await rows.movers(conn, now - timedelta(days=days), fast, limit)
        return [{**self.view(p), "units_sold": units, "days": days} for p, units in sold]

    async def damaged(self, now: datetime, days: int) -> list[dict[str, Any]]:
        """Products with units written off as damaged in the last `days` days (GraphQL's
        inventoriesWithDamage), with those units."""
        async with self.db.read_only() as conn:
            found = await rows.damaged_since(conn, now - timedelta(days=days))
        return [{**self.view(p), "damaged_units": units, "days": days} for p, units in found]

    async def grouped(self, field: str) -> list[dict[str, Any]]:
        """Totals per category or per brand (products without one are grouped as null)."""
        async with self.db.read_only() as conn:
            items = await rows.by_group(conn, field)
        groups: dict[str | None, list[ProductRecord]] = {}
        for p in items:
            groups.setdefault(getattr(p, field), []).append(p)
        return [{field: key, **totals_of_products(members)} for key, members in groups.items()]

    async def valuation(self, at: datetime) -> dict[str, Any]:
        """Stock, average cost and value of every product that had any history at `at`, with totals
        and totals per category (a month's closing figures: `at` the month's last moment)."""
        async with self.db.read_only() as conn:
            valued = await rows.valued_at(conn, at)
        items: list[dict[str, Any]] = [
            {"sku": v.sku, "name": v.name, "category": v.category, "brand": v.brand,
             "on_hand": v.on_hand, "average_cost": str(v.average_cost),
             "inventory_value": str(inventory_value(v.on_hand, v.average_cost)),
             "last_transaction_at": v.last_transaction_at.isoformat()}
            for v in valued
        ]  # fmt: skip
        categories: dict[str | None, list[dict[str, Any]]] = {}
        for item in items:
            categories.setdefault(item["category"], []).append(item)
        return {
            "at": at.isoformat(),
            "items": items,
            "totals": _valued(items),
            "by_category": [{"category": name, **_valued(members)} for name, members in categories.items()],
        }

    async def build(
        self, name: str, now: datetime, *, days: int = 30, fast: bool = True, limit: int = 20,
        at: datetime | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A report by name: one object for `summary`, `{"items": [...]}` for the others."""
        if name == "valuation":
            return await self.valuation(at or now)
        if name == "summary":
            return await self.summary()
        if name in ("low-stock", "out-of-stock"):
            return {"items": await self.by_status("low" if name == "low-stock" else "out")}
        if name == "overstock":
            return {"items": await self.overstock()}
        if name == "needs-count":
            return {"items": await self.needs_count(now)}
        if name == "movers":
            return {"items": await self.movers(now, days, fast, limit)}
        if name in ("by-category", "by-brand"):
            return {"items": await self.grouped(name.removeprefix("by-"))}
        if name == "anomalies":  # what the last full check found (a full check runs in the background)
            return await self.selfcheck.report()
        raise NotFound(f"No report named {name!r}; reports: {', '.join(REPORTS)}", {"reports": list(REPORTS)})
