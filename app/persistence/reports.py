"""The reports' reads: each one query over `product` (and `stock_transaction`), never one per product."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import asyncpg

from app.domain.immutable import immutable
from app.persistence.products import (
    LISTING_FROM,
    MONEY_COLUMNS,
    PRODUCT_SELECT,
    STATUS_SQL,
    VALUE_SQL,
    Filters,
    matching,
    product_from,
)
from app.persistence.records import ProductRecord

GROUPS = ("category", "brand")  # what products are totalled by


async def _products(conn: asyncpg.Connection, condition: str, *args: object, order: str) -> list[ProductRecord]:
    rows = await conn.fetch(f"SELECT * FROM ({PRODUCT_SELECT}) AS p WHERE {condition} ORDER BY {order}", *args)
    return [product_from(r) for r in rows]


# The summary's and the groups' figures in SQL, one aggregate over the catalogue (issue 13: at 50,000
# products, reading every product into Python took longer than the 500 ms a report may). The value
# is rounded per product as `summary.inventory_value` does (VALUE_SQL), then summed.
SUMS_SQL = f"""count(*) AS products, coalesce(sum(p.on_hand), 0)::bigint AS on_hand,
    coalesce(sum(p.live_reserved), 0)::bigint AS reserved,
    coalesce(sum({VALUE_SQL}), 0)::numeric(30, 2) AS inventory_value,
    {", ".join(f"coalesce(sum(p.{f}), 0)::numeric(30, 2) AS {f}" for f in MONEY_COLUMNS)},
    {", ".join(f"count(*) FILTER (WHERE {STATUS_SQL} = '{s}') AS status_{s}" for s in ("ok", "low", "out"))}"""


async def sums(conn: asyncpg.Connection, group: str | None = None) -> list[dict[str, object]]:
    """Every product's figures added up: one row, or one per category (or brand) in its order, the
    products without one last (as `key`)."""
    if group is None:
        return [dict(await conn.fetchrow(f"SELECT {SUMS_SQL} FROM {LISTING_FROM}"))]
    if group not in GROUPS:
        raise ValueError(f"products are grouped by {' or '.join(GROUPS)}, not {group!r}")
    rows = await conn.fetch(
        f"SELECT p.{group} AS key, {SUMS_SQL} FROM {LISTING_FROM} GROUP BY p.{group} ORDER BY p.{group} NULLS LAST"
    )
    return [dict(r) for r in rows]


async def with_status(conn: asyncpg.Connection, status: str) -> list[ProductRecord]:
    """Products low or out of stock (`status`), by SKU."""
    return await matching(conn, Filters(status=status))


async def overstocked(conn: asyncpg.Connection) -> list[ProductRecord]:
    """Above their overstock threshold, the most over first."""
    return await _products(conn, "p.overstock_threshold IS NOT NULL AND p.on_hand > p.overstock_threshold",
                           order="p.on_hand - p.overstock_threshold DESC, p.sku")  # fmt: skip


async def due_for_count(conn: asyncpg.Connection, now: datetime) -> list[ProductRecord]:
    """Never counted, or last counted longer ago than the product's interval; the longest first."""
    overdue = "p.last_counted_at < $1::timestamptz - make_interval(days => p.count_interval_days)"
    return await _products(conn, f"p.last_counted_at IS NULL OR {overdue}", now,
                           order="p.last_counted_at NULLS FIRST, p.sku")  # fmt: skip


# Units each product sold since $1, from the index of sales by time (at, product) INCLUDE (quantity):
# the window's sales, or, when the window holds most of them, every product's stored `units_out`
# (all its SELLs, checked by the self-check) less its sales before the window: whichever side reads
# fewer index entries (issue 13: a scan of the whole ledger took 1.0–1.5 s at 5,000,000 rows).
MOVERS_SQL = """
SELECT p.*, {sold}::bigint AS sold
FROM ({product_select}) AS p
LEFT JOIN (SELECT product, sum(quantity) AS sold FROM stock_transaction
           WHERE type = 'SELL' AND at {side} $1 GROUP BY product) AS s ON s.product = p.id
ORDER BY sold {direction}, p.sku LIMIT $2
"""
SALES_SPAN_SQL = "SELECT min(at) AS first, max(at) AS last FROM stock_transaction WHERE type = 'SELL'"


async def movers(conn: asyncpg.Connection, since: datetime, fast: bool, limit: int) -> list[tuple[ProductRecord, int]]:
    """The products that sold the most (or least) since `since`, and the units each sold."""
    span = await conn.fetchrow(SALES_SPAN_SQL)  # two index probes
    first, last = span["first"], span["last"]
    if first is not None and last - since > since - first:  # most sales (all, if since <= first) are in it
        sold, side = "p.units_out - coalesce(s.sold, 0)", "<"
    else:
        sold, side = "coalesce(s.sold, 0)", ">="
    direction = "DESC" if fast else "ASC"
    sql = MOVERS_SQL.format(product_select=PRODUCT_SELECT, direction=direction, sold=sold, side=side)
    rows = await conn.fetch(sql, since, limit)
    return [(product_from(r), r["sold"]) for r in rows]


DAMAGED_SQL = """
SELECT p.*, d.units AS damaged_in_window
FROM ({product_select}) AS p
JOIN (SELECT product, -sum(quantity) AS units FROM stock_transaction
      WHERE type = 'ADJUST' AND reason = 'damage' AND at >= $1 GROUP BY product) AS d ON d.product = p.id
WHERE d.units > 0
ORDER BY d.units DESC, p.sku
"""


async def damaged_since(conn: asyncpg.Connection, since: datetime) -> list[tuple[ProductRecord, int]]:
    """The products with units written off as damaged since `since` (as Totals.damaged counts them), the most first."""
    rows = await conn.fetch(DAMAGED_SQL.format(product_select=PRODUCT_SELECT), since)
    return [(product_from(r), r["damaged_in_window"]) for r in rows]


@immutable
class ValuedProduct:
    """A product's stock and average cost after its last transaction at or before a moment."""

    sku: str
    name: str
    category: str | None
    brand: str | None
    on_hand: int
    average_cost: Decimal
    last_transaction_at: datetime


# Each product's position at a moment, from its stored running figures: the product row itself when
# its last transaction is at or before the moment (every product, for "now"), else one probe of the
# (product, at, seq) index (never a replay; Odoo and ERPNext replay the ledger here). Products with
# no history at the moment are left out. Those of the SKUs from $2 (if not NULL) up to $3 (excluded,
# if not NULL): a part of the catalogue (valued_sums reads the parts at once).
VALUED_FROM = """
FROM (SELECT * FROM product p WHERE ($2::text IS NULL OR p.sku >= $2) AND ($3::text IS NULL OR p.sku < $3)) AS p
LEFT JOIN LATERAL (
    SELECT t.stock_after, t.average_cost_after, t.at FROM stock_transaction t
    WHERE p.last_at > $1 AND t.product = p.id AND t.at <= $1 ORDER BY t.at DESC, t.seq DESC LIMIT 1
) AS last ON TRUE
WHERE p.last_at <= $1 OR last.at IS NOT NULL
"""
_ON_HAND = "CASE WHEN p.last_at <= $1 THEN p.on_hand ELSE last.stock_after END"
_COST = "CASE WHEN p.last_at <= $1 THEN p.average_cost ELSE last.average_cost_after END"
MARK_EVERY = 100  # valued_sums marks every 100th product valued, so that a deep page starts near it
# A page: the products skipped by OFFSET are only asked whether they have history at $1 (EXISTS, an
# index-only probe), the page's own products are then read as VALUED_FROM reads them. {start} is
# empty, or starts the page at a mark of valued_sums (so that OFFSET skips fewer than MARK_EVERY).
VALUATION_SQL = f"""
SELECT p.sku, p.name, p.category, p.brand, {_ON_HAND} AS stock_after, {_COST} AS average_cost_after,
       CASE WHEN p.last_at <= $1 THEN p.last_at ELSE last.at END AS at
FROM (SELECT * FROM product p
      WHERE (p.last_at <= $1 OR EXISTS (SELECT 1 FROM stock_transaction t WHERE t.product = p.id AND t.at <= $1))
            {{start}}
      ORDER BY p.sku LIMIT $2 OFFSET $3) AS p
LEFT JOIN LATERAL (
    SELECT t.stock_after, t.average_cost_after, t.at FROM stock_transaction t
    WHERE p.last_at > $1 AND t.product = p.id AND t.at <= $1 ORDER BY t.at DESC, t.seq DESC LIMIT 1
) AS last ON TRUE
ORDER BY p.sku
"""
# Totals and totals per category of a part (in the order of their first SKU, as the items list them),
# in one pass; and the marks: the SKU of the part's 1st, 101st, 201st … product valued.
_VALUE = VALUE_SQL.replace("on_hand", "v.on_hand").replace("average_cost", "v.average_cost")
VALUATION_SUMS_SQL = f"""
WITH v AS MATERIALIZED (SELECT p.sku, p.category, {_ON_HAND} AS on_hand, {_COST} AS average_cost {VALUED_FROM})
SELECT v.category, grouping(v.category) AS everything, count(*) AS products,
       coalesce(sum(v.on_hand), 0)::bigint AS on_hand, coalesce(sum({_VALUE}), 0)::numeric(30, 2) AS inventory_value,
       (SELECT array_agg(m.sku ORDER BY m.sku) FROM (SELECT v.sku, row_number() OVER (ORDER BY v.sku) AS n FROM v) AS m
        WHERE m.n % {MARK_EVERY} = 1) AS marks
FROM v
GROUP BY GROUPING SETS ((v.category), ())
ORDER BY grouping(v.category), min(v.sku)
"""
_SUMMED = ("products", "on_hand", "inventory_value")


@immutable
class ValuedSums:
    totals: dict[str, Any]  # products, on_hand, inventory_value
    by_category: list[dict[str, Any]]  # category, products, on_hand, inventory_value; by their first SKU
    marks: tuple[tuple[int, str], ...]  # (n, the SKU of the n-th product valued, from 0), n ascending


async def valued_at(
    conn: asyncpg.Connection, at: datetime, limit: int, offset: int, marks: Sequence[tuple[int, str]] | None = None
) -> list[ValuedProduct]:
    """A page of the products that had any history at `at`, by SKU; with the `marks` of the same
    valuation (valued_sums), read from the last mark at or before the page rather than from the first product."""
    if marks is None:
        rows = await conn.fetch(VALUATION_SQL.format(start=""), at, limit, offset)
    else:
        before = bisect.bisect_right(marks, offset, key=itemgetter(0))
        if before == 0:
            return []  # nothing valued
        n, sku = marks[before - 1]
        rows = await conn.fetch(VALUATION_SQL.format(start="AND p.sku >= $4"), at, limit, offset - n, sku)
    return [ValuedProduct(r["sku"], r["name"], r["category"], r["brand"], r["stock_after"], r["average_cost_after"],
                          r["at"]) for r in rows]  # fmt: skip


async def splits(conn: asyncpg.Connection, parts: int) -> list[str]:
    """SKUs that cut the catalogue into `parts` parts of about as many products (from the planner's
    count, each found in the SKU index): the first SKU of each part after the first."""
    found = await conn.fetch(
        """SELECT (SELECT sku FROM product ORDER BY sku OFFSET (greatest(c.reltuples, 0) * k / $1)::bigint LIMIT 1)
               AS sku
           FROM pg_class c, generate_series(1, $1 - 1) AS k WHERE c.oid = 'product'::regclass ORDER BY k""",
        parts,
    )  # fmt: skip
    return sorted({r["sku"] for r in found if r["sku"] is not None})


async def valued_sums(
    conn: asyncpg.Connection, at: datetime, first: str | None = None, past: str | None = None
) -> ValuedSums:
    """The totals of the products valued at `at`, and per category: products, on_hand, inventory_value;
    and the marks for valued_at. Of the SKUs from `first` up to `past` (excluded), when given."""
    return sums_from([dict(r) for r in await conn.fetch(VALUATION_SUMS_SQL, at, first, past)])


def sums_from(rows: list[dict[str, Any]]) -> ValuedSums:
    """ValuedSums of the rows of VALUATION_SUMS_SQL (or of its form at one location)."""
    totals = next((r for r in rows if r["everything"]), None)
    if totals is None or totals["products"] == 0:
        return ValuedSums(dict.fromkeys(_SUMMED, 0), [], ())
    return ValuedSums(
        {k: totals[k] for k in _SUMMED},
        [{"category": r["category"], **{k: r[k] for k in _SUMMED}} for r in rows if not r["everything"]],
        tuple((n * MARK_EVERY, sku) for n, sku in enumerate(totals["marks"])),
    )


def combined(parts: Sequence[ValuedSums]) -> ValuedSums:
    """The sums of a valuation read in parts (by SKU ranges, in SKU order): added up, each category once,
    where it first appears (so still by first SKU, in the database's collation: each part is in its order)."""
    totals = {k: sum((p.totals[k] for p in parts), 0) for k in _SUMMED}
    groups: dict[str | None, dict[str, Any]] = {}
    for part in parts:
        for g in part.by_category:
            into = groups.setdefault(g["category"], {**g, **dict.fromkeys(_SUMMED, 0)})
            for k in _SUMMED:
                into[k] += g[k]
    marks, before = [], 0
    for part in parts:
        marks += [(before + n, sku) for n, sku in part.marks]
        before += part.totals["products"]
    return ValuedSums(totals, list(groups.values()), tuple(marks))
