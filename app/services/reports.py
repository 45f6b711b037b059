"""Stock reports: each is one query (or two), never a query per product."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from app.domain.errors import NotFound
from app.domain.money import ZERO_MONEY
from app.domain.summary import inventory_value, status
from app.persistence.database import read_only
from app.services import ledger_repo as repo
from app.services import products, selfcheck
from app.services.records import ProductRecord
from app.web.views import product_view

MONEY_FIELDS = ("revenue", "cogs", "realized_pl", "write_off", "gain")


async def _products(condition: str = "TRUE", *args: object, order: str = "p.sku") -> list[ProductRecord]:
    async with read_only() as conn:
        rows = await conn.fetch(f"SELECT * FROM ({repo.PRODUCT_SELECT}) AS p WHERE {condition} ORDER BY {order}", *args)
    return [repo.product_from(r) for r in rows]


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


async def summary() -> dict[str, Any]:
    items = await _products()
    statuses = Counter(status(p.position.stock - p.reserved, p.low_stock_threshold).value for p in items)
    return {**totals_of_products(items), "by_status": {s: statuses.get(s, 0) for s in ("ok", "low", "out")}}


async def by_status(wanted: str) -> list[dict[str, Any]]:
    return [product_view(p) for p in await products.listing(status=wanted)]


async def overstock() -> list[dict[str, Any]]:
    items = await _products("p.overstock_threshold IS NOT NULL AND p.on_hand > p.overstock_threshold",
                            order="p.on_hand - p.overstock_threshold DESC, p.sku")  # fmt: skip
    return [{**product_view(p), "excess": p.position.stock - (p.overstock_threshold or 0)} for p in items]


async def needs_count(now: datetime) -> list[dict[str, Any]]:
    """Never counted, or last counted longer ago than the product's interval."""
    overdue = "p.last_counted_at < $1::timestamptz - make_interval(days => p.count_interval_days)"
    items = await _products(
        f"p.last_counted_at IS NULL OR {overdue}", now, order="p.last_counted_at NULLS FIRST, p.sku"
    )
    return [
        {**product_view(p), "days_since_count": None if p.last_counted_at is None else (now - p.last_counted_at).days}
        for p in items
    ]


MOVERS_SQL = """
SELECT p.*, coalesce(s.sold, 0)::bigint AS sold
FROM ({product_select}) AS p
LEFT JOIN (SELECT product, sum(quantity) AS sold FROM stock_transaction
           WHERE type = 'SELL' AND at >= $1 GROUP BY product) AS s ON s.product = p.id
ORDER BY sold {direction}, p.sku LIMIT $2
"""


async def movers(now: datetime, days: int, fast: bool, limit: int) -> list[dict[str, Any]]:
    sql = MOVERS_SQL.format(product_select=repo.PRODUCT_SELECT, direction="DESC" if fast else "ASC")
    async with read_only() as conn:
        rows = await conn.fetch(sql, now - timedelta(days=days), limit)
    return [{**product_view(repo.product_from(r)), "units_sold": r["sold"], "days": days} for r in rows]


async def grouped(field: str) -> list[dict[str, Any]]:
    """Totals per category or per brand (products without one are grouped as null)."""
    items = await _products(order=f"p.{field} NULLS LAST, p.sku")
    groups: dict[str | None, list[ProductRecord]] = {}
    for p in items:
        groups.setdefault(getattr(p, field), []).append(p)
    return [{field: key, **totals_of_products(members)} for key, members in groups.items()]


# Each product's position at a moment, from its stored running figures: one probe of the
# (product, at, seq) index per product, never a replay (Odoo and ERPNext replay the ledger here).
VALUATION_SQL = """
SELECT p.sku, p.name, p.category, p.brand, last.stock_after, last.average_cost_after, last.at
FROM product p
CROSS JOIN LATERAL (
    SELECT t.stock_after, t.average_cost_after, t.at FROM stock_transaction t
    WHERE t.product = p.id AND t.at <= $1 ORDER BY t.at DESC, t.seq DESC LIMIT 1
) AS last
ORDER BY p.sku
"""


async def valuation(at: datetime) -> dict[str, Any]:
    """Stock, average cost and value of every product that had any history at `at`, with totals
    and totals per category (a month's closing figures: `at` the month's last moment)."""
    async with read_only() as conn:
        rows = await conn.fetch(VALUATION_SQL, at)
    items = [
        {"sku": r["sku"], "name": r["name"], "category": r["category"], "brand": r["brand"],
         "on_hand": r["stock_after"], "average_cost": str(r["average_cost_after"]),
         "inventory_value": str(inventory_value(r["stock_after"], r["average_cost_after"])),
         "last_transaction_at": r["at"].isoformat()}
        for r in rows
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


def _valued(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Totals are sums of the per-product rounded values (SPEC §2)."""
    return {"products": len(items), "on_hand": sum(i["on_hand"] for i in items),
            "inventory_value": str(sum((Decimal(i["inventory_value"]) for i in items), Decimal("0.00")))}  # fmt: skip


REPORTS = ("summary", "low-stock", "out-of-stock", "overstock", "needs-count", "movers", "by-category", "by-brand",
           "anomalies", "valuation")  # fmt: skip


async def build(
    name: str, now: datetime, *, days: int = 30, fast: bool = True, limit: int = 20, at: datetime | None = None
) -> dict[str, Any]:
    """A report by name: one object for `summary`, `{"items": [...]}` for the others."""
    if name == "valuation":
        return await valuation(at or now)
    if name == "summary":
        return await summary()
    if name in ("low-stock", "out-of-stock"):
        return {"items": await by_status("low" if name == "low-stock" else "out")}
    if name == "overstock":
        return {"items": await overstock()}
    if name == "needs-count":
        return {"items": await needs_count(now)}
    if name == "movers":
        return {"items": await movers(now, days, fast, limit)}
    if name in ("by-category", "by-brand"):
        return {"items": await grouped(name.removeprefix("by-"))}
    if name == "anomalies":
        return {"items": await selfcheck.anomalies()}
    raise NotFound(f"No report named {name!r}; reports: {', '.join(REPORTS)}", {"reports": list(REPORTS)})
