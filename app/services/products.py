"""Products: create, change settings, look up and list (with their summary figures)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.errors import Conflict, NotFound
from app.domain.inputs import ProductInput, merge_product_patch, parse_product
from app.persistence.database import read_only, unit_of_work
from app.services import idempotency
from app.services import ledger_repo as repo
from app.services.events import announce
from app.services.idempotency import Key
from app.services.records import ProductRecord
from app.services.views import product_view

BARCODE_INDEX = "product_barcode_gtin_idx"  # unique as a GTIN (see its migration)
# $1 is the same code as `barcode`, padded to a GTIN-14 (lpad would cut a longer text: it never matches).
_SAME_GTIN = "(barcode IS NOT NULL AND length($1) <= 13 AND lpad(barcode, 14, '0') = lpad($1, 14, '0'))"
_STATUS_SQL = """CASE WHEN on_hand - live_reserved <= 0 THEN 'out'
                      WHEN on_hand - live_reserved <= low_stock_threshold THEN 'low' ELSE 'ok' END"""


def _settings_of(p: ProductRecord) -> ProductInput:
    return ProductInput(
        p.sku, p.name, p.category, p.brand, p.low_stock_threshold, p.overstock_threshold, p.count_interval_days,
        p.barcode, p.sell_price,
    )  # fmt: skip


async def create(raw: Mapping[str, Any], key: Key | None = None) -> ProductRecord:
    data = parse_product(raw)
    async with unit_of_work() as conn:
        await idempotency.claim_or_repeat(conn, key)
        await _refuse_taken_barcode(conn, data)
        try:
            await conn.execute(
                """INSERT INTO product (sku, name, category, brand, low_stock_threshold, overstock_threshold,
                       count_interval_days, barcode, sell_price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
                data.sku, data.name, data.category, data.brand, data.low_stock_threshold,
                data.overstock_threshold, data.count_interval_days, data.barcode, data.sell_price,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as clash:
            if clash.constraint_name == BARCODE_INDEX:
                raise _barcode_taken(data.barcode, None) from None
            raise Conflict(f"A product with SKU {data.sku!r} already exists", {"field": "sku"}) from None
        created = await _require(conn, data.sku)
        await announce(conn, [created.id])
        await idempotency.keep_one(conn, key, 201, product_view(created))
        return created


async def update(sku: str, patch: Mapping[str, Any]) -> ProductRecord:
    async with unit_of_work() as conn:
        current = await _require(conn, sku)
        data = parse_product(merge_product_patch(_settings_of(current), patch))
        await _refuse_taken_barcode(conn, data)
        try:
            await conn.execute(
                """UPDATE product SET name = $2, category = $3, brand = $4, low_stock_threshold = $5,
                       overstock_threshold = $6, count_interval_days = $7, barcode = $8, sell_price = $9
                   WHERE sku = $1""",
                sku, data.name, data.category, data.brand, data.low_stock_threshold,
                data.overstock_threshold, data.count_interval_days, data.barcode, data.sell_price,
            )  # fmt: skip
        except asyncpg.UniqueViolationError:  # taken by a product made meanwhile
            raise _barcode_taken(data.barcode, None) from None
        await announce(conn, [current.id])
        return await _require(conn, sku)


async def get(sku: str) -> ProductRecord:
    async with read_only() as conn:
        return await _require(conn, sku)


async def listing(q: str | None = None, category: str | None = None, status: str | None = None) -> list[ProductRecord]:
    """Every product matching (the API's list): use `page_of` for what a person looks at."""
    args: list[Any] = []
    where = _filters(args, q, category, None, status)
    async with read_only() as conn:
        rows = await conn.fetch(f"SELECT * FROM {_LISTING_FROM} WHERE {where} ORDER BY sku", *args)
    return [repo.product_from(r) for r in rows]


# Every product with its live `reserved` (holds past their time no longer count), as PRODUCT_SELECT
# gives it, but with the lapsed holds summed once (a hash join) instead of one probe per product:
# the dashboard sorts, filters and totals the whole catalogue by these columns.
_LISTING_FROM = """(SELECT p.*, p.reserved - coalesce(l.quantity, 0)::bigint AS live_reserved
    FROM product p LEFT JOIN (SELECT product, sum(quantity) AS quantity FROM reservation
                              WHERE status = 'active' AND expires_at <= now() GROUP BY product) AS l
    ON l.product = p.id) AS p"""
# A product's inventory value as `summary.inventory_value` rounds it (half-even to cents; never negative).
_VALUE_SQL = """(CASE WHEN mod(on_hand * average_cost * 100, 2) = 0.5 THEN trunc(on_hand * average_cost, 2)
                      ELSE round(on_hand * average_cost, 2) END)"""
# Sortable columns by their URL name; every order ends with the SKU, so pages never overlap.
SORTS: dict[str, str] = {
    "sku": "sku",
    "name": "name",
    "on_hand": "on_hand",
    "reserved": "live_reserved",
    "available": "on_hand - live_reserved",
    "average_cost": "average_cost",
    "value": _VALUE_SQL,
    "realized_pl": "realized_pl",
    "status": f"(CASE ({_STATUS_SQL}) WHEN 'out' THEN 0 WHEN 'low' THEN 1 ELSE 2 END)",  # the worst first
    "last_counted": "last_counted_at",
    "last_sale": "last_sale_at",
}
STATUSES = ("ok", "low", "out")
PER_PAGE = 50
MAX_PER_PAGE = 500


@dataclass(frozen=True, slots=True)
class ListingQuery:
    q: str | None = None
    category: str | None = None
    brand: str | None = None
    status: str | None = None
    sort: str = "sku"
    descending: bool = False
    page: int = 1  # from 1
    per_page: int = PER_PAGE

    def normalized(self) -> ListingQuery:
        """Unknown sorts and statuses are ignored, sizes clamped: a hand-edited URL still shows a page."""
        return ListingQuery(
            (self.q or "").strip()[:200] or None, self.category or None, self.brand or None,
            self.status if self.status in STATUSES else None, self.sort if self.sort in SORTS else "sku",
            self.descending, max(1, self.page), min(max(1, self.per_page), MAX_PER_PAGE),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ListingPage:
    query: ListingQuery
    items: list[ProductRecord]
    totals: dict[str, Any]  # of the whole filtered set, as reports.totals_of_products names them

    @property
    def pages(self) -> int:
        return max(1, -(-int(self.totals["products"]) // self.query.per_page))


async def page_of(query: ListingQuery) -> ListingPage:
    """One page of the filtered, sorted catalogue and the totals of the whole filtered set: two
    statements (the page, one aggregate), read at the same time on two pooled connections (each
    task holds one: the "never stuck" rule), whatever the catalogue's size."""
    query = query.normalized()
    args: list[Any] = []
    where = _filters(args, query.q, query.category, query.brand, query.status)
    direction = "DESC" if query.descending else "ASC"
    order = f"{SORTS[query.sort]} {direction} NULLS LAST, sku {direction}"
    n = len(args)
    page_sql = f"SELECT * FROM {_LISTING_FROM} WHERE {where} ORDER BY {order} LIMIT ${n + 1} OFFSET ${n + 2}"
    rows, totals = await asyncio.gather(
        _fetch(page_sql, *args, query.per_page, (query.page - 1) * query.per_page), _totals(where, args)
    )
    return ListingPage(query, [repo.product_from(r) for r in rows], totals)


async def _fetch(sql: str, *args: Any) -> list[asyncpg.Record]:
    async with read_only() as conn:
        return await conn.fetch(sql, *args)


async def _totals(where: str, args: list[Any]) -> dict[str, Any]:
    """The sums of the matching products in one aggregate, as `reports.totals_of_products` names them.
    `reserved` is what is held now: the stored sums less the holds past their time (few; read apart,
    so the aggregate reads the product table alone unless the filter is a status)."""
    sums = f"""count(*) AS products, coalesce(sum(on_hand), 0)::bigint AS on_hand,
               coalesce(sum({{reserved}}), 0)::bigint AS reserved,
               coalesce(sum({_VALUE_SQL}), 0)::numeric(30, 2) AS inventory_value,
               {", ".join(f"coalesce(sum({f}), 0)::numeric(30, 2) AS {f}" for f in _MONEY_FIELDS)}"""
    if "live_reserved" in where:  # a status filter: the live figure row by row
        sql = f"SELECT {sums.format(reserved='live_reserved')} FROM {_LISTING_FROM} WHERE {where}"
    else:
        sql = f"""SELECT {sums.format(reserved="reserved")},
                         (SELECT coalesce(sum(r.quantity), 0) FROM reservation r
                          WHERE r.status = 'active' AND r.expires_at <= now()
                            AND r.product IN (SELECT id FROM product WHERE {where}))::bigint AS lapsed
                  FROM product WHERE {where}"""  # fmt: skip
    total = (await _fetch(sql, *args))[0]
    reserved = total["reserved"] - total.get("lapsed", 0)
    return {
        "products": total["products"],
        "on_hand": total["on_hand"],
        "reserved": reserved,
        "available": total["on_hand"] - reserved,
        "inventory_value": str(total["inventory_value"]),
        **{f: str(total[f]) for f in _MONEY_FIELDS},
    }


_MONEY_FIELDS = ("revenue", "cogs", "realized_pl", "write_off", "gain")


async def alerting(limit: int = 100) -> tuple[list[ProductRecord], int]:
    """Products low or out of stock (the worst first), at most `limit`, and how many there are."""
    async with read_only() as conn:
        rows = await conn.fetch(
            f"""SELECT *, count(*) OVER () AS alerting FROM {_LISTING_FROM}
                WHERE {_MAY_ALERT} AND ({_STATUS_SQL}) <> 'ok' ORDER BY {SORTS["status"]}, sku LIMIT $1""",
            limit,
        )  # fmt: skip
    return [repo.product_from(r) for r in rows], (rows[0]["alerting"] if rows else 0)


async def choices() -> tuple[list[str], list[str]]:
    """The categories and the brands in use, for the dashboard's filters: a loose index scan each
    (one probe per distinct value), not a scan of the catalogue."""
    found = []
    async with read_only() as conn:
        for column in ("category", "brand"):
            rows = await conn.fetch(
                f"""WITH RECURSIVE v AS (
                        (SELECT {column} AS value FROM product WHERE {column} > '' ORDER BY {column} LIMIT 1)
                        UNION ALL
                        SELECT (SELECT {column} FROM product WHERE {column} > v.value ORDER BY {column} LIMIT 1)
                        FROM v WHERE v.value IS NOT NULL)
                    SELECT value FROM v WHERE value IS NOT NULL"""
            )  # fmt: skip
            found.append([r["value"] for r in rows])
    return found[0], found[1]


SEARCHED = "(sku || ' ' || name)"  # exactly the expression of product_search_trgm_idx
# A superset of the products low or out of stock, exactly the predicate of product_alerting_idx (a
# lapsed hold only adds to what is available), so that index finds them without reading every product.
_MAY_ALERT = "on_hand - reserved <= low_stock_threshold"


def search_condition(text: str, args: list[Any]) -> str:
    """SQL (appending its parameters to `args`) for products that `text` names: its SKU or barcode
    (as a GTIN), or every word of it in the SKU or the name. The words are matched against
    `SEARCHED`, which one trigram index (pg_trgm, `product_search_trgm_idx`) answers: one GIN scan
    for all the words of 3 characters or more."""
    words = text.split()[:MAX_WORDS]
    args.append(text.strip())
    code = f"sku = ${len(args)} OR {_SAME_GTIN.replace('$1', f'${len(args)}')}"
    match = []
    for word in words:
        args.append(f"%{_escape_like(word)}%")
        match.append(f"{SEARCHED} ILIKE ${len(args)}")
    return f"({code} OR ({' AND '.join(match) or 'FALSE'}))"


def _filters(args: list[Any], q: str | None, category: str | None, brand: str | None, status: str | None) -> str:
    where = ["TRUE"]
    if q:
        where.append(search_condition(q, args))
    if category:
        args.append(category)
        where.append(f"category = ${len(args)}")
    if brand:
        args.append(brand)
        where.append(f"brand = ${len(args)}")
    if status:
        args.append(status)
        where.append(f"({_STATUS_SQL}) = ${len(args)}")
        if status != "ok":
            where.append(_MAY_ALERT)
    return " AND ".join(where)


@dataclass(frozen=True, slots=True)
class Suggestion:
    product: ProductRecord
    exact: bool  # the text is this product's SKU or barcode: a scan or a typed code picks it at once


# SKUs starting with the text first, then by name. Each word must appear in the SKU or the name.
_SUGGEST_SQL = f"""
WITH hit AS (
    SELECT id, sku ILIKE $1 AS prefix, sku, name FROM product
    WHERE {{words}}
    ORDER BY prefix DESC, name, sku
    LIMIT $2
)
SELECT p.* FROM hit JOIN ({repo.PRODUCT_SELECT}) AS p USING (id)
ORDER BY hit.prefix DESC, hit.name, hit.sku
"""
_BY_CODE_SQL = f"""{repo.PRODUCT_SELECT}
WHERE p.sku = $1 OR {_SAME_GTIN.replace("barcode", "p.barcode")}
ORDER BY p.sku = $1 DESC LIMIT 1"""
MAX_WORDS = 5


async def suggest(text: str, limit: int = 8) -> list[Suggestion]:
    """Products a counter clerk may mean by `text`: the one whose SKU or barcode it is (two index
    probes: a scan is answered at once), else those with every word of it in their SKU or name
    (the trigram indexes of `search_condition`). Only the few shown are summed up."""
    text = text.strip()[:200]
    words = text.split()[:MAX_WORDS]
    if not words:
        return []
    args: list[Any] = [f"{_escape_like(text)}%", limit]
    match = search_condition(text, args)  # the dashboard's search: trigram indexes
    async with read_only() as conn:
        exact = await conn.fetchrow(_BY_CODE_SQL, text)
        if exact is not None:
            return [Suggestion(repo.product_from(exact), True)]
        rows = await conn.fetch(_SUGGEST_SQL.format(words=match), *args)
    return [Suggestion(repo.product_from(r), False) for r in rows]


async def by_code(code: str) -> ProductRecord | None:
    """The product whose SKU or barcode this is (what a scanner or a typed SKU names), or None."""
    async with read_only() as conn:
        row = await conn.fetchrow(_BY_CODE_SQL, code.strip()[:200])
    return repo.product_from(row) if row else None


async def _refuse_taken_barcode(conn: asyncpg.Connection, data: ProductInput) -> None:
    """A 409 naming the product that already has this barcode (as a GTIN: a UPC-A and the same
    code with a leading 0 are one). The unique index still decides a race."""
    if data.barcode is None:
        return
    owner = await conn.fetchval(
        f"SELECT sku FROM product WHERE {_SAME_GTIN} AND sku <> $2",
        data.barcode, data.sku,
    )  # fmt: skip
    if owner is not None:
        raise _barcode_taken(data.barcode, owner)


def _barcode_taken(code: str | None, owner: str | None) -> Conflict:
    whose = f"product {owner}" if owner else "another product"
    return Conflict(f"Barcode {code} already belongs to {whose}", {"field": "barcode", "barcode": code, "sku": owner})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def _require(conn: asyncpg.Connection, sku: str) -> ProductRecord:
    product = await repo.product_by_sku(conn, sku)
    if product is None:
        raise NotFound(f"No product with SKU {sku!r}", {"sku": sku})
    return product
