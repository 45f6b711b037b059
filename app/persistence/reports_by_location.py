"""The reports' reads at one location (SPEC §2 "Stock locations": `?location=` on every report).

A product's stock at a location now is its row's `stocks` entry (0 when absent); what reservations
naming the location hold there is its `held` entry, less the holds past their time (as `reserved` is
read live). Cost is per product, so the value at a location is m(units there × the product's average
cost). The products a location keeps: those whose ledger has used it (a key of `stocks`) and those
it is the default location of. At a past moment the stock at a location is the last row there at
or before it, read by two probes of the partial location indexes; MAIN, which has no index of its
own (in a one-location shop every row is there), is the product's total less the other locations'.

Listing reports page in SQL (LIMIT/OFFSET, the total by a window count over the same pass): a page
costs one pass over the product rows of the location and the figures of its own products.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

import asyncpg

from app.domain.immutable import immutable
from app.domain.rules import MAIN
from app.domain.summary import Status, status_limits
from app.persistence.ledger_rows import LOCATION_STOCK_SQL
from app.persistence.products import LISTING_FROM, MONEY_COLUMNS, VALUE_SQL, product_from
from app.persistence.records import ProductRecord
from app.persistence.reports import GROUPS, MARK_EVERY, SALES_SPAN_SQL, ValuedProduct, ValuedSums, sums_from

# Active holds whose time has passed (as products.LISTING_FROM reads them): no longer held.
_LAPSED = "r.status = 'active' AND r.expires_at <= now()"
# The products location $1 keeps, as LISTING_FROM reads them (every column product_from reads), with
# `here_on_hand`, `here_reserved` (held there now: only a product with holds there is asked for its
# lapsed ones) and `here_min_stock` (the location's replenishment hint for it).
HERE_FROM = f"""(SELECT p.*, coalesce((p.stocks ->> $1::text)::bigint, 0) AS here_on_hand,
        (CASE WHEN p.held ? $1::text THEN (p.held ->> $1::text)::bigint - coalesce(
            (SELECT sum(r.quantity) FROM reservation r WHERE r.product = p.id AND r.location = $1::text AND {_LAPSED}),
            0) ELSE 0 END)::bigint AS here_reserved,
        (SELECT ms.min_stock FROM location_min_stock ms WHERE ms.product = p.id AND ms.location = $1::text)
            AS here_min_stock
    FROM {LISTING_FROM}
    WHERE p.stocks ? $1::text OR p.default_location = $1::text
    OFFSET 0) AS p"""  # not flattened into the query: each figure is computed once a product, not at each use
HERE_AVAILABLE = "(p.here_on_hand - p.here_reserved)"
# The stock status rule (summary.status_limits) applied to what is available at the location.
HERE_STATUS = (
    "(CASE "
    + " ".join(
        f"WHEN {HERE_AVAILABLE} <= {limit} THEN '{s.value}'" for s, limit in status_limits("p.low_stock_threshold")
    )
    + f" ELSE '{Status.OK.value}' END)"
)
HERE_VALUE = VALUE_SQL.replace("on_hand", "p.here_on_hand").replace("average_cost", "p.average_cost")


@immutable
class Here:
    """A product's figures at one location now (`counted_at`: its last COUNT there, when asked)."""

    location: str
    on_hand: int
    reserved: int
    min_stock: int | None
    counted_at: datetime | None = None


def _here(code: str, r: asyncpg.Record, counted: bool = False) -> Here:
    return Here(code, r["here_on_hand"], r["here_reserved"], r["here_min_stock"],
                r["here_counted_at"] if counted else None)  # fmt: skip


async def kept_skus(conn: asyncpg.Connection, code: str, skus: Sequence[str]) -> set[str]:
    """Which of these products the location keeps."""
    rows = await conn.fetch(
        "SELECT sku FROM product WHERE sku = ANY($2::text[]) AND (stocks ? $1::text OR default_location = $1::text)",
        code, list(skus),
    )  # fmt: skip
    return {r["sku"] for r in rows}


# --- listing reports, paged ------------------------------------------------------------------------

# A product's last COUNT at the location: none when the product was never counted anywhere; its last
# count when the location is the only one its ledger has used (so every one-location product: no
# probe); else the newest COUNT there (the planner walks the product's counts, or, at a location but
# MAIN, its rows there, newest first, whichever index it expects to read less of).
_COUNTED_AT = """CASE WHEN p.last_counted_at IS NULL THEN NULL
    WHEN p.stocks - $1::text = '{{}}'::jsonb THEN p.last_counted_at ELSE
    (SELECT t.at FROM stock_transaction t WHERE t.product = p.id AND t.type = 'COUNT' AND t.location = $1::text
     {elsewhere} ORDER BY t.at DESC LIMIT 1) END"""
LISTED: dict[str, tuple[str, str]] = {  # report: (condition, order)
    "low-stock": (f"{HERE_STATUS} = '{Status.LOW.value}'", "p.sku"),
    "out-of-stock": (f"{HERE_STATUS} = '{Status.OUT.value}'", "p.sku"),
    "overstock": ("p.overstock_threshold IS NOT NULL AND p.here_on_hand > p.overstock_threshold",
                  "p.here_on_hand - p.overstock_threshold DESC, p.sku"),
    "needs-count": ("p.here_counted_at IS NULL OR p.here_counted_at < $4::timestamptz - make_interval(days => "
                    "p.count_interval_days)", "p.here_counted_at NULLS FIRST, p.sku"),
}  # fmt: skip


def listed_sql(code: str, report: str) -> str:
    """A page of LISTED[report] at location $1: LIMIT $2 OFFSET $3 (needs-count: $4 the time now)."""
    condition, order = LISTED[report]
    source = HERE_FROM
    if report == "needs-count":
        counted_at = _COUNTED_AT.format(elsewhere="" if code == MAIN else f"AND t.location <> '{MAIN}'")
        source = f"(SELECT p.*, {counted_at} AS here_counted_at FROM {HERE_FROM}) AS p"
    return f"SELECT p.*, count(*) OVER () AS listed FROM {source} WHERE {condition} ORDER BY {order} LIMIT $2 OFFSET $3"


async def listed(
    conn: asyncpg.Connection, code: str, report: str, now: datetime, limit: int, offset: int
) -> tuple[list[tuple[ProductRecord, Here]], int]:
    """A page of a listing report's products at the location, with their figures there, and how many in all."""
    counted = report == "needs-count"
    sql = listed_sql(code, report)
    moment = (now,) if counted else ()  # $4
    rows = await conn.fetch(sql, code, limit, offset, *moment)
    if rows:
        total = rows[0]["listed"]
    else:  # a page past the end (or none): the first row's count
        first = await conn.fetch(sql, code, 1, 0, *moment)
        total = first[0]["listed"] if first else 0
    return [(product_from(r), _here(code, r, counted)) for r in rows], total


# Units sold at the location since $2. Every product's sales in the window come from the sales-by-time
# index alone (index-only), as the movers without a location read them: the window's sales, or, when
# it holds most of them, the product's `units_out` less its sales before it (reports.movers). A
# product whose ledger has used no other location sold all of them there. A product kept in several
# places: at a location but MAIN, its SELLs there in the window (the partial index of its rows
# there); at MAIN, its sales less those elsewhere (the same index: its rows not at MAIN).
_SALES = (
    "SELECT product, sum(quantity) AS sold FROM stock_transaction WHERE type = 'SELL' AND at {side} $2 GROUP BY product"
)
_SOLD_AT = """coalesce((SELECT sum(t.quantity) FROM stock_transaction t WHERE t.product = p.id AND {where}
    AND t.location <> '{main}' AND t.at >= $2 AND t.type = 'SELL'), 0)"""


def movers_sql(code: str, fast: bool, most_in_window: bool) -> str:
    """The movers at location $1 since $2, LIMIT $3."""
    side, sold = (">=", "coalesce(s.sold, 0)") if not most_in_window else ("<", "p.units_out - coalesce(s.sold, 0)")
    if code == MAIN:
        several = f"{sold} - {_SOLD_AT.format(where='TRUE', main=MAIN)}"
    else:
        several = _SOLD_AT.format(where="t.location = $1::text", main=MAIN)
    alone = "p.stocks - $1::text = '{}'::jsonb"
    return f"""SELECT p.*, (CASE WHEN {alone} THEN {sold} ELSE {several} END)::bigint AS sold
               FROM {HERE_FROM} LEFT JOIN ({_SALES.format(side=side)}) AS s ON s.product = p.id
               ORDER BY sold {"DESC" if fast else "ASC"}, p.sku LIMIT $3"""


async def movers(
    conn: asyncpg.Connection, code: str, since: datetime, fast: bool, limit: int
) -> list[tuple[ProductRecord, Here, int]]:
    """The products the location keeps that sold the most (or least) there since `since`."""
    span = await conn.fetchrow(SALES_SPAN_SQL)  # two index probes
    first, last = span["first"], span["last"]
    most_in_window = first is not None and last - since > since - first
    rows = await conn.fetch(movers_sql(code, fast, most_in_window), code, since, limit)
    return [(product_from(r), _here(code, r), r["sold"]) for r in rows]


# --- sums: the summary and the groups ---------------------------------------------------------------

# The money of the rows at the location, per product: a location other than MAIN sums its own rows
# (its partial index finds them); MAIN's is the product's totals less every other location's.
_MONEY_ELSEWHERE = f"""SELECT t.product, {", ".join(f"sum(t.{f}) AS {f}" for f in MONEY_COLUMNS)}
    FROM stock_transaction t WHERE t.location <> '{MAIN}' {{here}} GROUP BY t.product"""


def _sums_sql(code: str, group: str | None) -> str:
    if code == MAIN:
        money_from, money = _MONEY_ELSEWHERE.format(here=""), "p.{f} - coalesce(mo.{f}, 0)"
    else:
        money_from, money = _MONEY_ELSEWHERE.format(here="AND t.location = $1::text"), "coalesce(mo.{f}, 0)"
    key = f"p.{group} AS key, " if group else ""
    sums = f"""{key}count(*) AS products, coalesce(sum(p.here_on_hand), 0)::bigint AS on_hand,
        coalesce(sum(p.here_reserved), 0)::bigint AS reserved,
        coalesce(sum({HERE_VALUE}), 0)::numeric(30, 2) AS inventory_value,
        {", ".join(f"coalesce(sum({money.format(f=f)}), 0)::numeric(30, 2) AS {f}" for f in MONEY_COLUMNS)},
        {", ".join(f"count(*) FILTER (WHERE {HERE_STATUS} = '{s.value}') AS status_{s.value}" for s in Status)}"""
    grouped = f" GROUP BY p.{group} ORDER BY p.{group} NULLS LAST" if group else ""
    return f"SELECT {sums} FROM {HERE_FROM} LEFT JOIN ({money_from}) AS mo ON mo.product = p.id{grouped}"


async def sums(conn: asyncpg.Connection, code: str, group: str | None = None) -> list[dict[str, Any]]:
    """The figures at the location of the products it keeps, added up (as reports.sums answers them):
    stock, held and value there, the money of the rows there, and how many are ok, low and out there."""
    if group is not None and group not in GROUPS:
        raise ValueError(f"products are grouped by {' or '.join(GROUPS)}, not {group!r}")
    return [dict(r) for r in await conn.fetch(_sums_sql(code, group), code)]


# --- valuation at a past moment ---------------------------------------------------------------------


def _units_at(code: str) -> str:
    """SQL: the units at location `code` (an SQL text expression; not MAIN) after its last row at or
    before $1: the later of the last row leaving from it and the last arriving at it; NULL if none."""
    return f"""(SELECT x.units FROM (
        (SELECT {LOCATION_STOCK_SQL} AS units, t.at, t.seq FROM stock_transaction t
         WHERE t.product = p.id AND t.location = {code} AND t.location <> '{MAIN}' AND t.at <= $1
         ORDER BY t.at DESC, t.seq DESC LIMIT 1)
        UNION ALL
        (SELECT t.to_location_stock_after, t.at, t.seq FROM stock_transaction t
         WHERE t.product = p.id AND t.to_location = {code} AND t.at <= $1
         ORDER BY t.at DESC, t.seq DESC LIMIT 1)
        ORDER BY at DESC, seq DESC LIMIT 1) AS x)"""


# The product's last row at or before $1, when it has rows after $1 (else the product row itself).
_LAST = """LEFT JOIN LATERAL (
    SELECT t.stock_after, t.average_cost_after, t.at FROM stock_transaction t
    WHERE p.last_at > $1 AND t.product = p.id AND t.at <= $1 ORDER BY t.at DESC, t.seq DESC LIMIT 1
) AS last ON TRUE"""
_COST = "CASE WHEN p.last_at <= $1 THEN p.average_cost ELSE last.average_cost_after END"
_LAST_AT = "CASE WHEN p.last_at <= $1 THEN p.last_at ELSE last.at END"
_NOW_HERE = "coalesce((p.stocks ->> $2::text)::bigint, 0)"


@immutable
class _Valued:
    joins: str  # after `FROM (...) AS p`
    units: str  # the units at the location at $1
    valued: str  # the product had stock there at $1 (a row there at or before it), given the joins
    had_rows: str  # the same without the joins: index-only probes, for the products a page skips


def _valued(code: str) -> _Valued:
    if code == MAIN:  # the product's total less the other locations'
        others = f"""LEFT JOIN LATERAL (
            SELECT coalesce(sum({_units_at("c.code")}), 0)::bigint AS units FROM jsonb_object_keys(p.stocks) AS c(code)
            WHERE p.last_at > $1 AND c.code <> '{MAIN}') AS others ON TRUE"""
        return _Valued(
            f"{_LAST} {others}",
            f"CASE WHEN p.last_at <= $1 THEN {_NOW_HERE} ELSE last.stock_after - others.units END",
            "p.last_at <= $1 OR last.at IS NOT NULL",
            "p.last_at <= $1 OR EXISTS (SELECT 1 FROM stock_transaction t WHERE t.product = p.id AND t.at <= $1)",
        )
    here = f"LEFT JOIN LATERAL (SELECT {_units_at('$2::text')} AS units WHERE p.last_at > $1) AS here ON TRUE"
    return _Valued(
        f"{_LAST} {here}",
        f"CASE WHEN p.last_at <= $1 THEN {_NOW_HERE} ELSE here.units END",
        "p.last_at <= $1 OR here.units IS NOT NULL",
        f"""p.last_at <= $1
            OR EXISTS (SELECT 1 FROM stock_transaction t WHERE t.product = p.id AND t.location = $2::text
                       AND t.location <> '{MAIN}' AND t.at <= $1)
            OR EXISTS (SELECT 1 FROM stock_transaction t WHERE t.product = p.id AND t.to_location = $2::text
                       AND t.at <= $1)""",
    )


_VALUE = VALUE_SQL.replace("on_hand", "v.on_hand").replace("average_cost", "v.average_cost")


def _valuation_sums_sql(code: str) -> str:
    """As reports.VALUATION_SUMS_SQL, at the location: $1 the moment, $2 the location, $3/$4 the SKUs."""
    v = _valued(code)
    return f"""
WITH v AS MATERIALIZED (
    SELECT p.sku, p.category, {v.units} AS on_hand, {_COST} AS average_cost
    FROM (SELECT * FROM product p WHERE p.stocks ? $2::text AND ($3::text IS NULL OR p.sku >= $3)
          AND ($4::text IS NULL OR p.sku < $4)) AS p
    {v.joins}
    WHERE {v.valued})
SELECT v.category, grouping(v.category) AS everything, count(*) AS products, min(v.sku) AS first_sku,
       coalesce(sum(v.on_hand), 0)::bigint AS on_hand, coalesce(sum({_VALUE}), 0)::numeric(30, 2) AS inventory_value,
       (SELECT array_agg(m.sku ORDER BY m.sku) FROM (SELECT v.sku, row_number() OVER (ORDER BY v.sku) AS n FROM v) AS m
        WHERE m.n % {MARK_EVERY} = 1) AS marks
FROM v
GROUP BY GROUPING SETS ((v.category), ())
ORDER BY grouping(v.category), min(v.sku)
"""


def _valuation_page_sql(code: str, start: str) -> str:
    """A page of the valuation at the location: $1 the moment, $2 the location, $3 LIMIT, $4 OFFSET;
    the products skipped are only probed for rows there by then (index-only)."""
    v = _valued(code)
    return f"""
SELECT p.sku, p.name, p.category, p.brand, {v.units} AS stock_after, {_COST} AS average_cost_after, {_LAST_AT} AS at
FROM (SELECT * FROM product p WHERE p.stocks ? $2::text AND ({v.had_rows}) {start}
      ORDER BY p.sku LIMIT $3 OFFSET $4) AS p
{v.joins}
ORDER BY p.sku
"""


async def valued_sums(
    conn: asyncpg.Connection, at: datetime, code: str, first: str | None = None, past: str | None = None
) -> ValuedSums:
    """reports.valued_sums at the location: the products it had stock records of at `at`."""
    return sums_from([dict(r) for r in await conn.fetch(_valuation_sums_sql(code), at, code, first, past)])


async def valued_at(
    conn: asyncpg.Connection, at: datetime, code: str, limit: int, offset: int, marks: Sequence[tuple[int, str]]
) -> list[ValuedProduct]:
    """reports.valued_at at the location: a page, read from the last mark at or before it."""
    before = bisect.bisect_right(marks, offset, key=itemgetter(0))
    if before == 0:
        return []  # nothing valued
    n, sku = marks[before - 1]
    rows = await conn.fetch(_valuation_page_sql(code, "AND p.sku >= $5"), at, code, limit, offset - n, sku)
    return [ValuedProduct(r["sku"], r["name"], r["category"], r["brand"], r["stock_after"], r["average_cost_after"],
                          r["at"]) for r in rows]  # fmt: skip


# --- replenishment -----------------------------------------------------------------------------------


@immutable
class Short:
    """A product below its min_stock at a location; `stocks`/`held`/`min_stocks` by location, for its sources."""

    sku: str
    name: str
    location: str
    on_hand: int
    min_stock: int
    stocks: dict[str, int]
    held: dict[str, int]
    min_stocks: dict[str, int]


async def short(conn: asyncpg.Connection, code: str | None, limit: int, offset: int) -> tuple[list[Short], int]:
    """Every (product, location) whose stock there is below its min_stock (of `code` alone, if given),
    by location then SKU: a page of them, and how many in all."""
    where = """($1::text IS NULL OR m.location = $1::text)
               AND coalesce((p.stocks ->> m.location)::bigint, 0) < m.min_stock"""
    rows = await conn.fetch(
        f"""SELECT p.id, p.sku, p.name, p.stocks, p.held, m.location, m.min_stock,
                   coalesce((p.stocks ->> m.location)::bigint, 0) AS on_hand, count(*) OVER () AS listed,
                   (SELECT jsonb_object_agg(o.location, o.min_stock) FROM location_min_stock o
                    WHERE o.product = p.id) AS min_stocks
            FROM location_min_stock m JOIN product p ON p.id = m.product
            WHERE {where}
            ORDER BY m.location <> '{MAIN}', m.location, p.sku LIMIT $2 OFFSET $3""",
        code, limit, offset,
    )  # fmt: skip
    if rows:
        total = rows[0]["listed"]
    else:
        total = await conn.fetchval(
            f"SELECT count(*) FROM location_min_stock m JOIN product p ON p.id = m.product WHERE {where}", code
        )
    return [
        Short(r["sku"], r["name"], r["location"], r["on_hand"], r["min_stock"], _document(r["stocks"]),
              _document(r["held"]), _document(r["min_stocks"]))
        for r in rows
    ], total  # fmt: skip


def _document(raw: str | None) -> dict[str, int]:
    return {} if raw in (None, "{}") else {k: int(v) for k, v in json.loads(raw).items()}


async def storage_codes(conn: asyncpg.Connection) -> set[str]:
    """The locations that keep stock (not transit): those stock can be sent from."""
    return {r["code"] for r in await conn.fetch("SELECT code FROM location WHERE kind = 'storage'")}
