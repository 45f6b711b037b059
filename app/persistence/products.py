"""Products (`product`): their settings and the summary figures kept in step with their ledger.

`reserved` is stored as the sum of the active holds (written only by reservations.py); readers
see it live, less the holds whose time has passed but that the sweeper has not yet expired.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

import asyncpg

from app.domain.commands import ProductInput
from app.domain.immutable import immutable
from app.domain.ledger import Position
from app.domain.summary import Status, Totals, status_limits
from app.persistence import ledger_rows, settings
from app.persistence.records import ProductRecord
from app.persistence.sql_args import SqlArgs

# What a person sets (ProductInput's fields, by the same names).
SETTINGS_COLUMNS = ("sku", "name", "category", "brand", "low_stock_threshold", "overstock_threshold",
                    "count_interval_days", "barcode", "sell_price", "default_location")  # fmt: skip
# The summary figures, kept in step with the ledger in the same transaction, and their SQL types.
FIGURE_COLUMNS: dict[str, str] = {
    "on_hand": "bigint", "average_cost": "numeric", "revenue": "numeric", "cogs": "numeric",
    "realized_pl": "numeric", "write_off": "numeric", "gain": "numeric", "units_in": "bigint", "units_out": "bigint",
    "damaged": "bigint", "tx_count": "bigint", "last_at": "timestamptz", "last_seq": "bigint",
    "last_counted_at": "timestamptz", "last_sale_at": "timestamptz", "stocks": "jsonb",
}  # fmt: skip
TOTALS_COLUMNS = ("revenue", "cogs", "realized_pl", "write_off", "gain", "units_in", "units_out", "damaged")
BARCODE_INDEX = "product_barcode_gtin_idx"  # unique as a GTIN (see its migration)

# Active holds whose time has passed, per product: they no longer count as reserved.
_LAPSED = "r.status = 'active' AND r.expires_at <= now()"
# What lapsed holds naming a location keep in `held` (code -> units; NULL for none): no reader counts
# them. Only a product with located holds is asked (CASE evaluates the subquery only then).
_LAPSED_HELD = f"""CASE WHEN p.held <> '{{}}' THEN (SELECT jsonb_object_agg(x.location, x.quantity)
    FROM (SELECT r.location, sum(r.quantity) AS quantity FROM reservation r
          WHERE r.product = p.id AND r.location IS NOT NULL AND {_LAPSED} GROUP BY r.location) AS x) END"""
# Every product column, `live_reserved` (one probe of the lapsed holds per product) and `lapsed_held`:
# for a few products.
PRODUCT_SELECT = f"""
    SELECT p.*, p.reserved - coalesce((SELECT sum(r.quantity) FROM reservation r
        WHERE r.product = p.id AND {_LAPSED}), 0)::bigint AS live_reserved, {_LAPSED_HELD} AS lapsed_held
    FROM product p"""
# The same for the whole catalogue, with the lapsed holds summed once (a hash join): the dashboard
# sorts, filters and totals every product by these columns. A FROM item named `p`.
LISTING_FROM = f"""(SELECT p.*, p.reserved - coalesce(l.quantity, 0)::bigint AS live_reserved,
        CASE WHEN l.quantity IS NOT NULL THEN {_LAPSED_HELD} END AS lapsed_held
    FROM product p LEFT JOIN (SELECT r.product, sum(r.quantity) AS quantity FROM reservation r
                              WHERE {_LAPSED} GROUP BY r.product) AS l
    ON l.product = p.id) AS p"""


# C-level getters by column name: whole-catalogue reads (the event stream, reports) build 50,000s.
_settings_values = itemgetter(*SETTINGS_COLUMNS)
_totals_values = itemgetter(*TOTALS_COLUMNS)
assert TOTALS_COLUMNS == tuple(f.name for f in fields(Totals))  # Totals(*values) below


def product_from(row: asyncpg.Record) -> ProductRecord:
    """A product selected with PRODUCT_SELECT or from LISTING_FROM."""
    (sku, name, category, brand, low_stock_threshold, overstock_threshold, count_interval_days, barcode, sell_price,
     default_location) = _settings_values(row)  # fmt: skip
    last_at = row["last_at"]
    return ProductRecord(
        id=row["id"],
        sku=sku,
        name=name,
        category=category,
        brand=brand,
        low_stock_threshold=low_stock_threshold,
        overstock_threshold=overstock_threshold,
        count_interval_days=count_interval_days,
        created_at=row["created_at"],
        position=Position(row["on_hand"], row["average_cost"]),
        reserved=row["live_reserved"],
        totals=Totals(*_totals_values(row)),
        tx_count=row["tx_count"],
        last_key=(last_at, row["last_seq"]) if last_at is not None else None,
        last_counted_at=row["last_counted_at"],
        last_sale_at=row["last_sale_at"],
        lapsed_holds=row["reserved"] != row["live_reserved"],
        barcode=barcode,
        sell_price=sell_price,
        default_location=default_location,
        stocks=_by_location(row["stocks"]),
        held=_live_held(row["held"], row["lapsed_held"]),
    )


def _by_location(document: str) -> dict[str, int]:
    return {} if document == "{}" else json.loads(document)  # type: ignore[no-any-return]


def _live_held(document: str, lapsed: str | None) -> dict[str, int]:
    """What located holds keep at each location now: the stored `held` less its lapsed holds."""
    held = _by_location(document)
    if lapsed:
        for code, units in json.loads(lapsed).items():
            held[code] = held.get(code, 0) - units
        held = {code: units for code, units in held.items() if units}
    return held


_COMPACT = json.JSONEncoder(separators=(",", ":"), sort_keys=True)  # made once: json.dumps makes one per call


def stocks_document(stocks: Mapping[str, int]) -> str:
    return _COMPACT.encode(dict(stocks))


def settings_of(p: ProductRecord) -> ProductInput:
    return ProductInput(**{c: getattr(p, c) for c in SETTINGS_COLUMNS})


# --- one product, a few -------------------------------------------------------------------------


async def by_id(conn: asyncpg.Connection, product_id: int) -> ProductRecord | None:
    row = await conn.fetchrow(f"{PRODUCT_SELECT} WHERE p.id = $1", product_id)
    return product_from(row) if row else None


async def by_ids(conn: asyncpg.Connection, product_ids: Sequence[int]) -> dict[int, ProductRecord]:
    rows = await conn.fetch(f"{PRODUCT_SELECT} WHERE p.id = ANY($1::bigint[])", list(product_ids))
    return {r["id"]: product_from(r) for r in rows}


async def by_skus(conn: asyncpg.Connection, skus: Sequence[str]) -> list[ProductRecord]:
    """The products of these SKUs that exist (one statement, whatever their number)."""
    rows = await conn.fetch(f"{PRODUCT_SELECT} WHERE p.sku = ANY($1::text[])", list(skus))
    return [product_from(r) for r in rows]


async def by_sku(conn: asyncpg.Connection, sku: str) -> ProductRecord | None:
    row = await conn.fetchrow(f"{PRODUCT_SELECT} WHERE p.sku = $1", sku)
    return product_from(row) if row else None


async def ids_by_skus(conn: asyncpg.Connection, skus: Sequence[str]) -> dict[str, int]:
    return dict(await conn.fetch("SELECT sku, id FROM product WHERE sku = ANY($1::text[])", list(skus)))


@immutable
class BatchStart:
    products: dict[int, ProductRecord]
    closed_through: date | None
    seqs: list[int]  # ingestion numbers for the batch's entries, ascending


async def batch_start(conn: asyncpg.Connection, product_ids: list[int], entries: int) -> BatchStart:
    """Everything a batch of new rows reads once its locks are held, in one round trip: the
    products, `books_closed_through` and a block of ingestion numbers (each subquery runs once)."""
    rows = await conn.fetch(
        f"""SELECT x.*, {settings.CLOSED_THROUGH_SQL} AS closed_through,
                   {ledger_rows.NEXT_SEQS_SQL.format(count="$2::int")} AS seqs
            FROM ({PRODUCT_SELECT} WHERE p.id = ANY($1::bigint[])) AS x""",
        product_ids, entries,
    )  # fmt: skip
    return BatchStart(
        {r["id"]: product_from(r) for r in rows},
        settings.closed_through_from(rows[0]["closed_through"]),
        sorted(rows[0]["seqs"]),
    )


async def save_figures(conn: asyncpg.Connection, p: ProductRecord) -> None:
    await save_all_figures(conn, [p])


async def save_all_figures(conn: asyncpg.Connection, products: Sequence[ProductRecord]) -> None:
    """Store the summary figures of several products in one statement."""
    t = [p.totals for p in products]
    keys = [p.last_key or (None, None) for p in products]
    values: dict[str, list[Any]] = {
        "on_hand": [p.position.stock for p in products], "average_cost": [p.position.average_cost for p in products],
        **{c: [getattr(x, c) for x in t] for c in TOTALS_COLUMNS},
        "tx_count": [p.tx_count for p in products], "last_at": [k[0] for k in keys], "last_seq": [k[1] for k in keys],
        "last_counted_at": [p.last_counted_at for p in products], "last_sale_at": [p.last_sale_at for p in products],
        "stocks": [stocks_document(p.stocks) for p in products],
    }  # fmt: skip
    assert values.keys() == FIGURE_COLUMNS.keys()
    args = SqlArgs([p.id for p in products])
    arrays = ", ".join(args.bind(v, f"{FIGURE_COLUMNS[c]}[]") for c, v in values.items())
    await conn.execute(
        f"""UPDATE product p SET {", ".join(f"{c} = u.{c}" for c in values)}
            FROM unnest($1::bigint[], {arrays}) AS u(id, {", ".join(values)})
            WHERE p.id = u.id""",
        *args.values,
    )  # fmt: skip


# --- settings -------------------------------------------------------------------------------------


class BarcodeTaken(Exception):
    """The unique GTIN index refused the barcode (a product made meanwhile has it)."""


class SkuTaken(Exception):
    pass


class UnknownLocation(Exception):
    """The default location names no location (its foreign key refused it)."""


def _same_gtin(code: str, column: str = "barcode") -> str:
    """SQL: `column` is the same code as the text parameter `code`, both padded to a GTIN-14
    (lpad would cut a longer text: that never matches)."""
    return f"({column} IS NOT NULL AND length({code}) <= 13 AND lpad({column}, 14, '0') = lpad({code}, 14, '0'))"


async def insert(conn: asyncpg.Connection, data: ProductInput) -> None:
    args = SqlArgs()
    placeholders = ", ".join(args.bind(getattr(data, c)) for c in SETTINGS_COLUMNS)
    try:
        await conn.execute(f"INSERT INTO product ({', '.join(SETTINGS_COLUMNS)}) VALUES ({placeholders})", *args.values)
    except asyncpg.UniqueViolationError as clash:
        raise (BarcodeTaken() if clash.constraint_name == BARCODE_INDEX else SkuTaken()) from None
    except asyncpg.ForeignKeyViolationError:
        raise UnknownLocation() from None


async def update_settings(conn: asyncpg.Connection, data: ProductInput) -> None:
    """Everything but the SKU (which names the product) as `data` has it."""
    args = SqlArgs(data.sku)
    changes = ", ".join(f"{c} = {args.bind(getattr(data, c))}" for c in SETTINGS_COLUMNS if c != "sku")
    try:
        await conn.execute(f"UPDATE product SET {changes} WHERE sku = $1", *args.values)
    except asyncpg.UniqueViolationError:
        raise BarcodeTaken() from None
    except asyncpg.ForeignKeyViolationError:
        raise UnknownLocation() from None


async def barcode_owner(conn: asyncpg.Connection, barcode: str, other_than_sku: str) -> str | None:
    """The SKU of another product with this barcode (as a GTIN: a UPC-A and the same code with a
    leading 0 are one)."""
    owner: str | None = await conn.fetchval(
        f"SELECT sku FROM product WHERE {_same_gtin('$1')} AND sku <> $2", barcode, other_than_sku
    )
    return owner


# --- the catalogue: filters, sorts, totals --------------------------------------------------------


def _status_sql(available: str, named: bool) -> str:
    """The domain's stock status rule (`summary.status_limits`, worst first) as a SQL CASE: its
    value (`named`), or its rank (0 the worst) to sort by."""
    ranked = [*status_limits("low_stock_threshold"), (Status.OK, None)]

    def then(rank: int, s: Status) -> str:
        return f"'{s.value}'" if named else str(rank)

    cases = " ".join(f"WHEN {available} <= {limit} THEN {then(r, s)}" for r, (s, limit) in enumerate(ranked[:-1]))
    return f"(CASE {cases} ELSE {then(len(ranked) - 1, Status.OK)} END)"


_AVAILABLE = "on_hand - live_reserved"
STATUS_SQL = _status_sql(_AVAILABLE, named=True)
# A product's inventory value as `summary.inventory_value` rounds it (half-even to cents; never negative).
VALUE_SQL = """(CASE WHEN mod(on_hand * average_cost * 100, 2) = 0.5 THEN trunc(on_hand * average_cost, 2)
                     ELSE round(on_hand * average_cost, 2) END)"""
# Sortable columns by their URL name (every order also ends with the SKU, so pages never overlap).
SORTS: dict[str, str] = {
    "sku": "sku",
    "name": "name",
    "on_hand": "on_hand",
    "reserved": "live_reserved",
    "available": _AVAILABLE,
    "average_cost": "average_cost",
    "value": VALUE_SQL,
    "realized_pl": "realized_pl",
    "status": _status_sql(_AVAILABLE, named=False),  # the worst first
    "last_counted": "last_counted_at",
    "last_sale": "last_sale_at",
}
STATUSES = tuple(s.value for s in Status)
# A superset of the products low or out of stock, exactly the predicate of product_alerting_idx (a
# lapsed hold only adds to what is available), so that index finds them without reading every product.
MAY_ALERT = "on_hand - reserved <= low_stock_threshold"
SEARCHED = "(sku || ' ' || name)"  # exactly the expression of product_search_trgm_idx
MAX_WORDS = 5
MONEY_COLUMNS = ("revenue", "cogs", "realized_pl", "write_off", "gain")


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_condition(text: str, args: SqlArgs) -> str:
    """SQL (binding its parameters in `args`) for products that `text` names: its SKU or barcode
    (as a GTIN), or every word of it in the SKU or the name. The words are matched against
    `SEARCHED`, which one trigram index (pg_trgm, `product_search_trgm_idx`) answers: one GIN scan
    for all the words of 3 characters or more."""
    code = args.bind(text.strip())
    match = [f"{SEARCHED} ILIKE {args.bind(f'%{_escape_like(word)}%')}" for word in text.split()[:MAX_WORDS]]
    return f"(sku = {code} OR {_same_gtin(code)} OR ({' AND '.join(match) or 'FALSE'}))"


@immutable
class Filters:
    q: str | None = None  # search text
    category: str | None = None
    brand: str | None = None
    status: str | None = None  # one of STATUSES
    location: str | None = None  # products whose ledger has used this location (a key of `stocks`)

    def where(self, args: SqlArgs) -> str:
        """SQL over LISTING_FROM's columns (`live_reserved` only with a status)."""
        where = ["TRUE"]
        if self.q:
            where.append(search_condition(self.q, args))
        if self.category:
            where.append(f"category = {args.bind(self.category)}")
        if self.brand:
            where.append(f"brand = {args.bind(self.brand)}")
        if self.status:
            where.append(f"{STATUS_SQL} = {args.bind(self.status)}")
            if self.status != Status.OK:
                where.append(MAY_ALERT)
        if self.location:
            where.append(f"stocks ? {args.bind(self.location)}")
        return " AND ".join(where)


def sort_sql(sort: str, location: str | None, args: SqlArgs) -> str:
    """SORTS[sort]; with a location, on hand, reserved and available sort by what is there."""
    if location is None or sort not in ("on_hand", "reserved", "available"):
        return SORTS[sort]
    code = args.bind(location)
    on_hand, held = f"coalesce((stocks ->> {code})::bigint, 0)", f"coalesce((held ->> {code})::bigint, 0)"
    return {"on_hand": on_hand, "reserved": held, "available": f"({on_hand} - {held})"}[sort]


async def matching(
    conn: asyncpg.Connection, filters: Filters, limit: int | None = None, after: str | None = None
) -> list[ProductRecord]:
    """The matching products by SKU: every one, or at most `limit` from the first past `after`."""
    args = SqlArgs()
    where = filters.where(args)
    if after is not None:
        where += f" AND sku > {args.bind(after)}"
    bounded = "" if limit is None else f" LIMIT {args.bind(limit)}"
    rows = await conn.fetch(f"SELECT * FROM {LISTING_FROM} WHERE {where} ORDER BY sku{bounded}", *args.values)
    return [product_from(r) for r in rows]


async def page(
    conn: asyncpg.Connection, filters: Filters, sort: str, descending: bool, limit: int, offset: int
) -> list[ProductRecord]:
    """A page of the matching products, sorted by SORTS[sort] then the SKU."""
    args = SqlArgs()
    where = filters.where(args)
    direction = "DESC" if descending else "ASC"
    rows = await conn.fetch(
        f"""SELECT * FROM {LISTING_FROM} WHERE {where}
            ORDER BY {sort_sql(sort, filters.location, args)} {direction} NULLS LAST, sku {direction}
            LIMIT {args.bind(limit)} OFFSET {args.bind(offset)}""",
        *args.values,
    )  # fmt: skip
    return [product_from(r) for r in rows]


# Seconds until the next active hold's time passes (NULL: none will): until then the live reserved
# figures, and the statuses that depend on them, stay as they are unless something is committed.
_NEXT_LAPSE_IN = """(SELECT extract(epoch FROM min(r.expires_at) - now()) FROM reservation r
                     WHERE r.status = 'active' AND r.expires_at > now())::float8 AS next_lapse_in"""


async def totals(conn: asyncpg.Connection, filters: Filters) -> dict[str, Any]:
    """The sums of the matching products in one aggregate: products, on_hand, reserved (held now:
    the stored sums less the holds past their time, few, read apart, so that the aggregate reads
    the product table alone unless the filter is a status), inventory_value and the money; and
    `next_lapse_in`, how long these sums hold if nothing is committed (dashboard_totals keeps them)."""
    args = SqlArgs()
    where = filters.where(args)
    sums = f"""count(*) AS products, coalesce(sum(on_hand), 0)::bigint AS on_hand,
               coalesce(sum({{reserved}}), 0)::bigint AS reserved,
               coalesce(sum({VALUE_SQL}), 0)::numeric(30, 2) AS inventory_value,
               {", ".join(f"coalesce(sum({f}), 0)::numeric(30, 2) AS {f}" for f in MONEY_COLUMNS)},
               {_NEXT_LAPSE_IN}"""
    if filters.status:  # the live figure row by row
        sql = f"SELECT {sums.format(reserved='live_reserved')} FROM {LISTING_FROM} WHERE {where}"
    else:
        sql = f"""SELECT {sums.format(reserved="reserved")},
                         (SELECT coalesce(sum(r.quantity), 0) FROM reservation r
                          WHERE {_LAPSED} AND r.product IN (SELECT id FROM product WHERE {where}))::bigint AS lapsed
                  FROM product WHERE {where}"""  # fmt: skip
    total = dict(await conn.fetchrow(sql, *args.values))
    total["reserved"] -= total.pop("lapsed", 0)
    return total


async def seconds_to_next_lapse(conn: asyncpg.Connection) -> float | None:
    """How long the live reserved figures (and the statuses) hold if nothing is committed (None: for ever)."""
    seconds: float | None = await conn.fetchval(f"SELECT {_NEXT_LAPSE_IN}")
    return seconds


class LocationTotal(NamedTuple):
    location: str
    on_hand: int
    held: int
    value: Decimal  # its units at each product's average cost, rounded per product (as VALUE_SQL)


_VALUE_THERE = VALUE_SQL.replace("on_hand", "s.value::bigint").replace("average_cost", "p.average_cost")


async def location_totals(conn: asyncpg.Connection, filters: Filters) -> list[LocationTotal]:
    """The units on hand and held at each location, and their value, summed over the matching
    products, MAIN first: one pass over their `stocks` (and `held`) documents; the located holds past
    their time (few, read apart, as `totals` does) no longer count as held."""
    args = SqlArgs()
    where = filters.where(args)
    source = LISTING_FROM if filters.status else "product p"
    rows = await conn.fetch(
        f"""SELECT s.key, sum(s.value::bigint)::bigint AS on_hand,
                   sum(coalesce((p.held ->> s.key)::bigint, 0))::bigint AS held,
                   coalesce(sum({_VALUE_THERE}), 0)::numeric(30, 2) AS value
            FROM {source} CROSS JOIN LATERAL jsonb_each_text(p.stocks) AS s
            WHERE {where} GROUP BY s.key ORDER BY s.key <> 'MAIN', s.key""",
        *args.values,
    )  # fmt: skip
    lapsed = await conn.fetch(
        f"""SELECT r.location, sum(r.quantity)::bigint AS quantity FROM reservation r
            WHERE {_LAPSED} AND r.location IS NOT NULL AND r.product IN (SELECT p.id FROM {source} WHERE {where})
            GROUP BY r.location""",
        *args.values,
    )  # fmt: skip
    gone = {r["location"]: r["quantity"] for r in lapsed}
    return [LocationTotal(r["key"], r["on_hand"], r["held"] - gone.get(r["key"], 0), r["value"]) for r in rows]


async def alerting(conn: asyncpg.Connection, limit: int) -> tuple[list[ProductRecord], int]:
    """Products low or out of stock (the worst first), at most `limit`, and how many there are."""
    rows = await conn.fetch(
        f"""SELECT *, count(*) OVER () AS alerting FROM {LISTING_FROM}
            WHERE {MAY_ALERT} AND {STATUS_SQL} <> '{Status.OK.value}' ORDER BY {SORTS["status"]}, sku LIMIT $1""",
        limit,
    )  # fmt: skip
    return [product_from(r) for r in rows], (rows[0]["alerting"] if rows else 0)


async def values_in_use(conn: asyncpg.Connection, column: str) -> list[str]:
    """The distinct values of `category` or `brand`: a loose index scan (one probe per value)."""
    assert column in ("category", "brand")
    rows = await conn.fetch(
        f"""WITH RECURSIVE v AS (
                (SELECT {column} AS value FROM product WHERE {column} > '' ORDER BY {column} LIMIT 1)
                UNION ALL
                SELECT (SELECT {column} FROM product WHERE {column} > v.value ORDER BY {column} LIMIT 1)
                FROM v WHERE v.value IS NOT NULL)
            SELECT value FROM v WHERE value IS NOT NULL"""
    )  # fmt: skip
    return [r["value"] for r in rows]


_BY_CODE_SQL = f"""{PRODUCT_SELECT}
WHERE p.sku = $1 OR {_same_gtin("$1", "p.barcode")}
ORDER BY p.sku = $1 DESC LIMIT 1"""


async def by_code(conn: asyncpg.Connection, code: str) -> ProductRecord | None:
    """The product whose SKU or barcode (as a GTIN) this is: two index probes."""
    row = await conn.fetchrow(_BY_CODE_SQL, code)
    return product_from(row) if row else None


async def suggested(conn: asyncpg.Connection, text: str, limit: int) -> list[ProductRecord]:
    """Products with every word of `text` in their SKU or name (`search_condition`), those whose
    SKU starts with the text first, then by name; only these few are summed up."""
    args = SqlArgs()
    prefix, most = args.bind(f"{_escape_like(text)}%"), args.bind(limit)
    words = search_condition(text, args)
    rows = await conn.fetch(
        f"""WITH hit AS (
                SELECT id, sku ILIKE {prefix} AS prefix, sku, name FROM product
                WHERE {words}
                ORDER BY prefix DESC, name, sku
                LIMIT {most}
            )
            SELECT p.* FROM hit JOIN ({PRODUCT_SELECT}) AS p USING (id)
            ORDER BY hit.prefix DESC, hit.name, hit.sku""",
        *args.values,
    )  # fmt: skip
    return [product_from(r) for r in rows]
