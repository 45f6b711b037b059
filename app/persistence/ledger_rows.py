"""The ledger rows (`stock_transaction`): each a transaction of one product, with the figures it caused.

Raw asyncpg on the hot paths: each round trip is spent while a product's lock is held, so
statements are few and bulk (arrays through `unnest`; new rows as one JSON array). A row's entry and figures are the
domain's `Entry` and `Figures`, whose field names are the table's column names: the columns
below are declared once, and rows become records by those names.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

import asyncpg
import msgspec

from app.domain.ledger import Entry, Figures, Position, Posted, Stored, TimelineKey
from app.domain.refold_figures import MONEY
from app.domain.rules import Reason, TxType
from app.persistence.database import DatabaseUnavailable
from app.persistence.records import LedgerRow
from app.persistence.sql_args import SqlArgs

# Every column a new row is written with, and its SQL type (for the casts of `unnest` arrays).
COLUMNS: dict[str, str] = {
    "product": "bigint", "seq": "bigint", "type": "text", "quantity": "bigint", "unit_price": "numeric",
    "at": "timestamptz", "reason": "text", "note": "text", "stock_after": "bigint", "average_cost_after": "numeric",
    "revenue": "numeric", "cogs": "numeric", "realized_pl": "numeric", "write_off": "numeric", "gain": "numeric",
    "external_id": "text", "location": "text", "to_location": "text", "location_stock_after": "bigint",
    "to_location_stock_after": "bigint",
}  # fmt: skip
ENTRY_COLUMNS = Entry._fields  # seq, at, type, quantity, unit_price, reason, id, location, to_location
# stock_after, average_cost_after, revenue, cogs, realized_pl, write_off, gain, location_stock_after,
# to_location_stock_after
FIGURE_COLUMNS = Figures._fields
assert set(ENTRY_COLUMNS) - {"id"} <= COLUMNS.keys() and set(FIGURE_COLUMNS) <= COLUMNS.keys()
POSITION_COLUMNS = ("stock_after", "average_cost_after")


# A row from before locations existed has no `location_stock_after`: all its product's stock was at
# MAIN then, so it is the row's `stock_after` (see the locations migration).
LOCATION_STOCK_SQL = "coalesce(t.location_stock_after, t.stock_after)"
_READ_AS = {"location_stock_after": f"{LOCATION_STOCK_SQL} AS location_stock_after"}


def _select(columns: Iterable[str]) -> str:
    return ", ".join(_READ_AS.get(c, f"t.{c}") for c in columns)


# What a refold reads back of a stored row: its entry, the position it left and the stock it left at
# its locations (not the money).
_STORED = (*ENTRY_COLUMNS, *POSITION_COLUMNS, "location_stock_after", "to_location_stock_after")
STORED_SELECT = _select(_STORED)
ROW_SELECT = _select((*ENTRY_COLUMNS, *FIGURE_COLUMNS, "note")) + ", p.sku"
ROW_FROM = "stock_transaction t JOIN product p ON p.id = t.product"

_TYPES = {t.value: t for t in TxType}
_REASONS: dict[str | None, Reason | None] = {r.value: r for r in Reason} | {None: None}
# C-level getters by column name: a refold decodes 100,000s of rows.
_entry_values = itemgetter(*ENTRY_COLUMNS)
_figure_values = itemgetter(*FIGURE_COLUMNS)
_position_values = itemgetter(*POSITION_COLUMNS)
_new = tuple.__new__  # skips the NamedTuples' Python-level constructors, for the same reason


def _entry_from(r: asyncpg.Record) -> Entry:
    seq, at, kind, quantity, unit_price, reason, tx_id, location, to_location = _entry_values(r)
    return _new(Entry, (seq, at, _TYPES[kind], quantity, unit_price, _REASONS[reason], tx_id, location, to_location))


def posted_from(r: asyncpg.Record) -> Posted:
    return Posted(_entry_from(r), _new(Figures, _figure_values(r)))


def row_from(r: asyncpg.Record) -> LedgerRow:
    """A row selected with ROW_SELECT."""
    return LedgerRow(posted_from(r), r["note"], r["sku"])


# The hot loop of a refold reads 100,000s of these: each column's place in STORED_SELECT is
# found by its name once, here, and a row is then read by those places (a lookup by name per
# value measured 8% slower).
_stored_entry = itemgetter(*(_STORED.index(c) for c in ENTRY_COLUMNS))
_stored_position = itemgetter(*(_STORED.index(c) for c in POSITION_COLUMNS))
_stored_here = itemgetter(_STORED.index("location_stock_after"), _STORED.index("to_location_stock_after"))


def _stored_from(r: asyncpg.Record) -> Stored:
    """A row selected with STORED_SELECT."""
    seq, at, kind, quantity, unit_price, reason, tx_id, location, to_location = _stored_entry(r)
    entry = _new(Entry, (seq, at, _TYPES[kind], quantity, unit_price, _REASONS[reason], tx_id, location, to_location))
    return _new(Stored, (entry, _new(Position, _stored_position(r)), *_stored_here(r)))


# --- reads ----------------------------------------------------------------------------------


async def timeline_rows(
    conn: asyncpg.Connection, product_id: int, limit: int | None = None, offset: int = 0, *, newest_first: bool = False
) -> list[LedgerRow]:
    """A product's rows in timeline order (or newest first), a page of them or all."""
    order = "t.at DESC, t.seq DESC" if newest_first else "t.at, t.seq"
    records = await conn.fetch(
        f"SELECT {ROW_SELECT} FROM {ROW_FROM} WHERE t.product = $1 ORDER BY {order} LIMIT $2 OFFSET $3",
        product_id, limit, offset,
    )  # fmt: skip
    return [row_from(r) for r in records]


async def timeline_page(
    conn: asyncpg.Connection,
    product_id: int,
    limit: int,
    after: TimelineKey | None = None,
    *,
    newest_first: bool = False,
) -> list[LedgerRow]:
    """Up to `limit` rows in timeline order (or newest first) coming after `after` in that order (from
    the start without one): a page read by key, one range scan of the timeline index at any depth."""
    if newest_first:
        order, past = "t.at DESC, t.seq DESC", "(t.at, t.seq) < ($3, $4)"
    else:
        order, past = "t.at, t.seq", "(t.at, t.seq) > ($3, $4)"
    where, past_args = (f"t.product = $1 AND {past}", after) if after else ("t.product = $1", ())
    records = await conn.fetch(
        f"SELECT {ROW_SELECT} FROM {ROW_FROM} WHERE {where} ORDER BY {order} LIMIT $2", product_id, limit, *past_args
    )
    return [row_from(r) for r in records]


async def row_by_id(conn: asyncpg.Connection, tx_id: int) -> tuple[LedgerRow, int] | None:
    """A row and its product id."""
    r = await conn.fetchrow(f"SELECT {ROW_SELECT}, t.product FROM {ROW_FROM} WHERE t.id = $1", tx_id)
    return (row_from(r), r["product"]) if r else None


async def point_before(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey
) -> tuple[Position, TimelineKey] | None:
    """The position after the last row strictly before `key` (one index probe)."""
    r = await conn.fetchrow(
        f"""SELECT {_select(POSITION_COLUMNS)}, t.at, t.seq FROM stock_transaction t
            WHERE t.product = $1 AND (t.at, t.seq) < ($2, $3) ORDER BY t.at DESC, t.seq DESC LIMIT 1""",
        product_id, key[0], key[1],
    )  # fmt: skip
    if r is None:
        return None
    return Position(*_position_values(r)), (r["at"], r["seq"])


async def stocks_before(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey, codes: Sequence[str]
) -> dict[str, int]:
    """The stock at each of these locations (not MAIN) after the last row there strictly before
    `key`: the later of the last row leaving from it and the last arriving at it (two probes of the
    partial location indexes each). A location without rows before `key` holds 0 and is left out."""
    records = await conn.fetch(
        """SELECT c.code, r.units FROM unnest($2::text[]) AS c(code)
           CROSS JOIN LATERAL (
               (SELECT t.at, t.seq, coalesce(t.location_stock_after, t.stock_after) AS units
                FROM stock_transaction t
                WHERE t.product = $1 AND t.location = c.code AND t.location <> 'MAIN' AND (t.at, t.seq) < ($3, $4)
                ORDER BY t.at DESC, t.seq DESC LIMIT 1)
               UNION ALL
               (SELECT t.at, t.seq, t.to_location_stock_after FROM stock_transaction t
                WHERE t.product = $1 AND t.to_location = c.code AND (t.at, t.seq) < ($3, $4)
                ORDER BY t.at DESC, t.seq DESC LIMIT 1)
               ORDER BY at DESC, seq DESC LIMIT 1) r""",
        product_id, list(codes), key[0], key[1],
    )  # fmt: skip
    return {r["code"]: r["units"] for r in records}


async def rows_from(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey, exclude_id: int | None, limit: int
) -> list[Stored]:
    """Up to `limit` rows at or after `key`, in timeline order: the part a change can affect.
    Only what a refold needs: the entries and the positions they left, not the money."""
    records = await conn.fetch(
        f"""SELECT {STORED_SELECT} FROM stock_transaction t
            WHERE t.product = $1 AND (t.at, t.seq) >= ($2, $3) AND t.id IS DISTINCT FROM $4
            ORDER BY t.at, t.seq LIMIT $5""",
        product_id, key[0], key[1], exclude_id, limit,
    )  # fmt: skip
    return [_stored_from(r) for r in records]


async def latest_at(conn: asyncpg.Connection, product_id: int, kind: TxType, exclude_id: int) -> datetime | None:
    """Latest COUNT or SELL time but one row's; answered from a partial index."""
    # The type is spelled out (not a parameter) so a generic plan still matches the partial index.
    literal = {TxType.COUNT: "'COUNT'", TxType.SELL: "'SELL'"}[kind]
    value: datetime | None = await conn.fetchval(
        f"SELECT max(at) FROM stock_transaction WHERE product = $1 AND type = {literal} AND id <> $2",
        product_id, exclude_id,
    )  # fmt: skip
    return value


# The sequence of ingestion numbers (`seq`), unique across the table: the timeline's tie-break.
SEQ_SEQUENCE = "stock_transaction_seq_seq"
NEXT_SEQS_SQL = f"(SELECT array_agg(nextval('{SEQ_SEQUENCE}') ORDER BY g) FROM generate_series(1, {{count}}) AS g)"


async def next_seqs(conn: asyncpg.Connection, count: int) -> list[int]:
    seqs: list[int] = await conn.fetchval(f"SELECT {NEXT_SEQS_SQL.format(count='$1::int')}", count)
    return sorted(seqs)


async def stock_points(conn: asyncpg.Connection, product_id: int, step: int, count: int) -> list[tuple[datetime, int]]:
    """(time, stock after) of every `step`-th row in timeline order, and of the last (the `count`-th)."""
    rows = await conn.fetch(
        """SELECT at, stock_after FROM (
               SELECT at, stock_after, row_number() OVER (ORDER BY at, seq) AS n
               FROM stock_transaction WHERE product = $1) s
           WHERE (n - 1) % $2 = 0 OR n = $3 ORDER BY n""",
        product_id, step, count,
    )  # fmt: skip
    return [(r["at"], r["stock_after"]) for r in rows]


async def time_span(conn: asyncpg.Connection, product_id: int) -> tuple[datetime, datetime] | None:
    """When the product's first and last rows are dated (two probes of the timeline index)."""
    found = await conn.fetchrow(
        """SELECT (SELECT at FROM stock_transaction WHERE product = $1 ORDER BY at LIMIT 1) AS first,
                  (SELECT at FROM stock_transaction WHERE product = $1 ORDER BY at DESC LIMIT 1) AS last""",
        product_id,
    )
    return None if found is None or found["first"] is None else (found["first"], found["last"])


async def stock_at(
    conn: asyncpg.Connection, product_id: int, moments: Sequence[datetime]
) -> list[tuple[datetime, int]]:
    """(time, stock after) of the last row at or before each moment, each row once, in timeline order:
    one backward probe of the timeline index per moment, whatever the length of the ledger."""
    rows = await conn.fetch(
        """SELECT DISTINCT r.at, r.seq, r.stock_after FROM unnest($2::timestamptz[]) AS m(moment)
           CROSS JOIN LATERAL (
               SELECT at, seq, stock_after FROM stock_transaction
               WHERE product = $1 AND at <= m.moment ORDER BY at DESC, seq DESC LIMIT 1) r
           ORDER BY r.at, r.seq""",
        product_id, list(moments),
    )  # fmt: skip
    return [(r["at"], r["stock_after"]) for r in rows]


# The latest `$3` calendar months of zone `$2` that hold rows (all of them when `$3` is NULL), found
# by one backward index probe each; then each month's sums over its own range of the timeline index,
# and its closing figures from its last row (one probe). The cost is that of the months asked for.
MONTHLY_SQL = """
WITH RECURSIVE latest(month) AS (
    SELECT date_trunc('month', max(at) AT TIME ZONE $2) FROM stock_transaction WHERE product = $1
  UNION ALL
    SELECT (SELECT date_trunc('month', t.at AT TIME ZONE $2) FROM stock_transaction t
            WHERE t.product = $1 AND t.at < (l.month AT TIME ZONE $2) ORDER BY t.at DESC LIMIT 1)
    FROM latest l WHERE l.month IS NOT NULL
), shown AS (
    SELECT month, month AT TIME ZONE $2 AS starts, (month + interval '1 month') AT TIME ZONE $2 AS ends
    FROM latest WHERE month IS NOT NULL LIMIT $3
)
SELECT to_char(s.month, 'YYYY-MM') AS month, f.bought, f.sold, f.adjusted, f.revenue, f.cogs, f.realized_pl,
       f.write_off, f.gain, c.stock_after AS closing_stock, c.average_cost_after AS closing_average_cost,
       EXISTS (SELECT 1 FROM stock_transaction WHERE product = $1 AND at < (SELECT min(starts) FROM shown))
           AS earlier
FROM shown s
CROSS JOIN LATERAL (
    SELECT coalesce(sum(quantity) FILTER (WHERE type = 'BUY'), 0)::bigint AS bought,
           coalesce(sum(quantity) FILTER (WHERE type = 'SELL'), 0)::bigint AS sold,
           coalesce(sum(quantity) FILTER (WHERE type = 'ADJUST'), 0)::bigint AS adjusted,
           sum(revenue) AS revenue, sum(cogs) AS cogs, sum(realized_pl) AS realized_pl,
           sum(write_off) AS write_off, sum(gain) AS gain
    FROM stock_transaction WHERE product = $1 AND at >= s.starts AND at < s.ends) f
CROSS JOIN LATERAL (
    SELECT stock_after, average_cost_after FROM stock_transaction
    WHERE product = $1 AND at < s.ends ORDER BY at DESC, seq DESC LIMIT 1) c
ORDER BY s.month
"""


async def monthly(
    conn: asyncpg.Connection, product_id: int, zone: str, latest: int | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """A product's figures per calendar month of time zone `zone` (the `latest` months that hold
    rows, or every one), oldest first; and whether rows lie before the first of them."""
    rows = [dict(r) for r in await conn.fetch(MONTHLY_SQL, product_id, zone, latest)]
    earlier = bool(rows and rows[0]["earlier"])
    for r in rows:
        del r["earlier"]
    return rows, earlier


# --- writes ---------------------------------------------------------------------------------


def _json_row_column(column: str) -> str:
    """The SQL reading `column` out of one element `r` of insert_rows' JSON: [product id, the entry's
    fields, the figures' fields, note, external id], each tuple in its NamedTuple's field order."""
    if column in ENTRY_COLUMNS:
        text = f"r->1->>{ENTRY_COLUMNS.index(column)}"
    elif column in FIGURE_COLUMNS:
        text = f"r->2->>{FIGURE_COLUMNS.index(column)}"
    else:
        text = {"product": "r->>0", "note": "r->>3", "external_id": "r->>4"}[column]
    return text if COLUMNS[column] == "text" else f"({text})::{COLUMNS[column]}"


# New rows go as one JSON array (msgspec writes it in C: NamedTuples as arrays, a Decimal as its exact
# text, a time in ISO 8601 with its offset). As 20 arrays asyncpg looked at every value of every array
# in Python (is it a sub-array?) and encoded each Decimal apart: ~5 µs of a sale's CPU (issue 12).
_INSERT_SQL = (
    f"INSERT INTO stock_transaction ({', '.join(COLUMNS)}) "
    f"SELECT {', '.join(_json_row_column(c) for c in COLUMNS)} FROM jsonb_array_elements($1::jsonb) AS r "
    "RETURNING id, seq"
)
_ROWS_JSON = msgspec.json.Encoder()


async def insert_rows(
    conn: asyncpg.Connection,
    product_ids: Sequence[int],
    rows: Sequence[Posted],
    notes: Sequence[str | None],
    external_ids: Sequence[str | None] | None = None,
) -> dict[int, int]:
    """Insert new rows (of any products) in one statement; returns id by seq."""
    ext = external_ids if external_ids is not None else [None] * len(rows)
    payload = _ROWS_JSON.encode(
        [(pid, p.entry, p.figures, note, x) for pid, p, note, x in zip(product_ids, rows, notes, ext, strict=True)]
    )
    records = await conn.fetch(_INSERT_SQL, payload.decode())
    return {r["seq"]: r["id"] for r in records}


COPY_COLUMNS = tuple(COLUMNS)
# COPY's text format: a backslash, tab, newline or carriage return in a value is escaped; \N is NULL.
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NULL = "\\N"
COPY_CHUNK = 1000  # rows per piece of COPY data; the event loop gets a turn between pieces
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def _copy_text(value: str | None) -> str:
    if value is None:
        return _NULL
    return value.translate(_COPY_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


NewRow = tuple[int, Posted, str | None, str | None]  # product id, the row with its figures, note, external id


def _copy_line(product_id: int, e: Entry, f: Figures, note: str | None, external_id: str | None) -> str:
    """One row in COPY_COLUMNS' order."""
    return (
        f"{product_id}\t{e.seq}\t{e.type.value}\t{e.quantity}\t"
        f"{_NULL if e.unit_price is None else e.unit_price}\t{e.at.isoformat()}\t"
        f"{_NULL if e.reason is None else e.reason.value}\t{_copy_text(note)}\t{f.stock_after}\t"
        f"{f.average_cost_after}\t{f.revenue}\t{f.cogs}\t{f.realized_pl}\t{f.write_off}\t{f.gain}\t"
        f"{_copy_text(external_id)}\t{e.location}\t{_NULL if e.to_location is None else e.to_location}\t"
        f"{_NULL if f.location_stock_after is None else f.location_stock_after}\t"
        f"{_NULL if f.to_location_stock_after is None else f.to_location_stock_after}\n"
    )


async def copy_rows(conn: asyncpg.Connection, rows: Iterable[NewRow]) -> None:
    """Insert new rows (of any products) with one COPY, in PostgreSQL's text format: built as text
    in pieces, so that no value is encoded one by one (asyncpg's Decimal encoding was the slowest
    part of a bulk INSERT) and a large import is not held in memory as one message."""

    async def pieces() -> AsyncIterator[bytes]:
        lines: list[str] = []
        for product_id, (e, f), note, external_id in rows:
            lines.append(_copy_line(product_id, e, f, note, external_id))
            if len(lines) == COPY_CHUNK:
                yield "".join(lines).encode()
                lines.clear()
                await asyncio.sleep(0)
        if lines:
            yield "".join(lines).encode()

    try:
        await conn.copy_to_table("stock_transaction", source=pieces(), columns=COPY_COLUMNS, format="text")
    except RuntimeError as closed:  # asyncpg on uvloop, the connection lost mid-COPY: "the handler is closed"
        if not conn.is_closed():
            raise
        raise DatabaseUnavailable(f"the connection was lost during COPY ({closed})") from closed


async def update_figures(
    conn: asyncpg.Connection, product_id: int, rows: Sequence[Posted], fields: Sequence[int], exclude_id: int | None
) -> dict[int, Decimal]:
    """Write the refolded figures of consecutive stored rows in one statement; returns the
    sums of their money `fields` (indexes into Figures) as they were before.

    Only `fields` travel, each as one comma-joined string that PostgreSQL splits and casts in
    C: asyncpg would otherwise encode every Decimal in Python, which measured slower than the
    UPDATE itself for 100,000 rows. Rows whose figures come out as stored are left alone. The
    old sums come from the same snapshot (a WITH query sees the table as it was before the
    UPDATE beside it)."""
    if not rows:
        return {}
    names = [FIGURE_COLUMNS[i] for i in fields]
    money = [FIGURE_COLUMNS[i] for i in fields if i in MONEY]
    first, last = rows[0].entry, rows[-1].entry
    # $1..$7: the product, the rows' ids, the span's ends and the row left out.
    args = SqlArgs(product_id, [p.entry.id for p in rows], first.at, first.seq, last.at, last.seq, exclude_id)
    figures = [p.figures for p in rows]
    arrays = ", ".join(
        f"string_to_array({args.bind(_joined(map(itemgetter(i), figures)))}, ',', '')::{COLUMNS[FIGURE_COLUMNS[i]]}[]"
        for i in fields
    )
    stored, refolded = ", ".join(f"t.{x}" for x in names), ", ".join(f"u.{x}" for x in names)
    sums = ", ".join(f"coalesce(sum({x}), 0) AS {x}" for x in money) or "0"
    # Naming the product and the rows' span keeps the join to them, not to the whole table or
    # the whole product (measured: a quarter of the time for 16,384 of 100,000 rows).
    record = await conn.fetchrow(
        f"""WITH before AS (
                SELECT {sums} FROM stock_transaction
                WHERE product = $1 AND (at, seq) BETWEEN ($3, $4) AND ($5, $6) AND id IS DISTINCT FROM $7
            ), written AS (
                UPDATE stock_transaction t SET {", ".join(f"{x} = u.{x}" for x in names)}
                FROM unnest($2::bigint[], {arrays}) AS u(id, {", ".join(names)})
                WHERE t.id = u.id AND t.product = $1 AND (t.at, t.seq) BETWEEN ($3, $4) AND ($5, $6)
                    AND ({stored}) IS DISTINCT FROM ({refolded})
                RETURNING 1
            )
            SELECT * FROM before""",
        *args.values,
    )  # fmt: skip
    return {i: record[FIGURE_COLUMNS[i]] for i in fields if i in MONEY}


def _joined(values: Iterable[int | Decimal | None]) -> str:
    """Comma-joined, an empty item for None (read back as NULL by `string_to_array(…, ',', '')`)."""
    return ",".join(map(str, values)).replace("None", "")  # C-speed: a number never spells "None"


async def replace_row(conn: asyncpg.Connection, product_id: int, row: Posted, note: str | None) -> None:
    """Rewrite an edited row in place (it keeps its id and seq, and may move to another product)."""
    e, f = row.entry, row.figures
    values: dict[str, Any] = {
        "product": product_id, "type": e.type.value, "quantity": e.quantity, "unit_price": e.unit_price,
        "at": e.at, "reason": e.reason.value if e.reason else None, "note": note, "location": e.location,
        "to_location": e.to_location, **f._asdict(),
    }  # fmt: skip
    args = SqlArgs(e.id)
    assignments = ", ".join(f"{c} = {args.bind(v)}" for c, v in values.items())
    await conn.execute(f"UPDATE stock_transaction SET {assignments} WHERE id = $1", *args.values)


async def delete_row(conn: asyncpg.Connection, tx_id: int) -> None:
    await conn.execute("DELETE FROM stock_transaction WHERE id = $1", tx_id)
