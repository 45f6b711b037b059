"""Reservations (`reservation`): holds of stock for an order, and the only writer of `product.reserved`
and `product.held`.

A product's `reserved` is the sum of its active holds; its `held` (location code -> units) the sum of
those that name a location, by location (a location none holds is left out). Every statement that
starts or ends a hold changes both in the same statement, through `_change_reserved`: the one place
they are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import asyncpg

from app.domain.reservations import Status, effective
from app.persistence import ledger_rows
from app.persistence.records import LedgerRow, ReservationRecord
from app.persistence.sql_args import SqlArgs

# The table's columns as a record reads them (`sku` comes from the product).
COLUMNS = ("id", "product", "order_ref", "quantity", "status", "created_at", "expires_at", "ended_at",
           "unit_price", "transaction_id", "location")  # fmt: skip
_SELECT = ", ".join(f"r.{c}" for c in COLUMNS) + ", p.sku"
_FROM = "reservation r JOIN product p ON p.id = r.product"
_LAPSED = "r.status = 'active' AND r.expires_at <= now()"
_ACTIVE = "r.status = 'active' AND r.expires_at > now()"  # as readers see it: not lapsed


_STATUSES = {named.value: named for named in Status}  # Status(text) goes through the enum's machinery: ~1 µs


def record_from(r: asyncpg.Record, now: datetime, sku: str | None = None) -> ReservationRecord:
    """A reservation as a reader must see it at `now` (a lapsed active hold is expired, ended when
    it lapsed); `sku` unless the row has it."""
    status = effective(_STATUSES[r["status"]], r["expires_at"], now)
    ended = r["ended_at"] if r["ended_at"] or status is not Status.EXPIRED else r["expires_at"]
    return ReservationRecord(
        id=r["id"], product_id=r["product"], sku=sku or r["sku"], order_ref=r["order_ref"], quantity=r["quantity"],
        status=status, created_at=r["created_at"], expires_at=r["expires_at"], ended_at=ended,
        unit_price=r["unit_price"], transaction_id=r["transaction_id"], location=r["location"],
    )  # fmt: skip


def _change_reserved(changes: str) -> str:
    """The statement that adds to products' `reserved` the `quantity` of each row of `changes`, and
    to their `held` at its `location` when it names one (a FROM item with the columns product,
    location and quantity; negative releases). Holds without a location leave `held` as it is."""
    return f"""UPDATE product SET reserved = product.reserved + c.quantity,
               held = CASE WHEN c.held IS NULL THEN product.held ELSE {_HELD_PLUS}
               END
               FROM (SELECT product, sum(quantity) AS quantity,
                            jsonb_object_agg(location, quantity) FILTER (WHERE location IS NOT NULL) AS held
                     FROM (SELECT product, location, sum(quantity) AS quantity FROM {changes}
                           GROUP BY product, location) AS g
                     GROUP BY product) AS c
               WHERE product.id = c.product"""


# The product's `held` plus the change's, by location, without the locations that then hold nothing.
_HELD_PLUS = """(SELECT coalesce(jsonb_object_agg(s.code, s.units), '{}')
    FROM (SELECT e.code, sum(e.units) AS units
          FROM (SELECT key AS code, value::bigint AS units FROM jsonb_each_text(product.held)
                UNION ALL SELECT key, value::bigint FROM jsonb_each_text(c.held)) AS e
          GROUP BY e.code) AS s
    WHERE s.units <> 0)"""


# --- reads ----------------------------------------------------------------------------------------


class HoldFacts(NamedTuple):
    """What never changes about a hold: its product, order and location."""

    product_id: int
    order_ref: str
    location: str | None


async def facts_of(conn: asyncpg.Connection, reservation_ids: Sequence[int]) -> dict[int, HoldFacts]:
    rows = await conn.fetch(
        "SELECT id, product, order_ref, location FROM reservation WHERE id = ANY($1::bigint[])", list(reservation_ids)
    )
    return {r["id"]: HoldFacts(r["product"], r["order_ref"], r["location"]) for r in rows}


async def by_ids(
    conn: asyncpg.Connection, reservation_ids: Sequence[int], now: datetime
) -> dict[int, ReservationRecord]:
    rows = await conn.fetch(f"SELECT {_SELECT} FROM {_FROM} WHERE r.id = ANY($1::bigint[])", list(reservation_ids))
    return {r["id"]: record_from(r, now) for r in rows}


async def for_orders(
    conn: asyncpg.Connection, product_ids: Sequence[int], order_refs: Sequence[str], now: datetime
) -> dict[tuple[int, str], ReservationRecord]:
    """The reservations of these (product, order) pairs that exist, by pair."""
    rows = await conn.fetch(
        f"""SELECT {_SELECT} FROM {_FROM} JOIN unnest($1::bigint[], $2::text[]) AS q(product, order_ref)
            ON r.product = q.product AND r.order_ref = q.order_ref""",
        list(product_ids), list(order_refs),
    )  # fmt: skip
    return {(r["product"], r["order_ref"]): record_from(r, now) for r in rows}


async def listing(
    conn: asyncpg.Connection,
    sku: str | None,
    status: Status | None,
    limit: int,
    now: datetime,
    location: str | None = None,
    before: int | None = None,
    ended: bool = False,
) -> list[ReservationRecord]:
    """Newest first; a status as readers see it (an active hold past its time is expired); with
    `location`, the holds naming it; with `before` (a reservation's id), those listed after it: a
    page read by key, so the last page costs what the first does; `ended`: only holds no longer
    active (confirmed, cancelled, expired or lapsed)."""
    args = SqlArgs()
    where = ["TRUE"]
    if before is not None:
        after = f"(SELECT b.created_at, b.id FROM reservation b WHERE b.id = {args.bind(before)})"
        where.append(f"(r.created_at, r.id) < {after}")
    if sku:
        where.append(f"p.sku = {args.bind(sku)}")
    if location:
        where.append(f"r.location = {args.bind(location)}")
    if ended:
        where.append(f"NOT ({_ACTIVE})")
    if status is Status.ACTIVE:
        where.append(_ACTIVE)
    elif status is Status.EXPIRED:
        where.append(f"(r.status = 'expired' OR ({_LAPSED}))")
    elif status is not None:
        where.append(f"r.status = {args.bind(status.value)}")
    rows = await conn.fetch(
        f"""SELECT {_SELECT} FROM {_FROM} WHERE {" AND ".join(where)}
            ORDER BY r.created_at DESC, r.id DESC LIMIT {args.bind(limit)}""",
        *args.values,
    )  # fmt: skip
    return [record_from(r, now) for r in rows]


async def count_active(conn: asyncpg.Connection, sku: str | None) -> int:
    """How many holds are active now (of the product `sku`, or of every product)."""
    if sku:
        return int(await conn.fetchval(f"SELECT count(*) FROM {_FROM} WHERE p.sku = $1 AND {_ACTIVE}", sku))
    return int(await conn.fetchval(f"SELECT count(*) FROM reservation r WHERE {_ACTIVE}"))


async def sales_of(conn: asyncpg.Connection, held: ReservationRecord, note: str) -> list[LedgerRow]:
    """The sales a confirmed hold's confirm recorded, as they stand, in timeline order: the row it
    names (`transaction_id`) wherever it is now, and the other SELLs of a confirm that took stock
    from several locations (the same product, time and note: `note` is the confirm's)."""
    if held.transaction_id is None:
        return []
    rows = await conn.fetch(
        f"""SELECT {ledger_rows.ROW_SELECT} FROM {ledger_rows.ROW_FROM}
            WHERE t.id = $1 OR (t.product = $2 AND t.type = 'SELL' AND t.at = $3 AND t.note = $4)
            ORDER BY t.at, t.seq""",
        held.transaction_id, held.product_id, held.ended_at, note,
    )  # fmt: skip
    return [ledger_rows.row_from(r) for r in rows]


async def products_with_lapsed_holds(conn: asyncpg.Connection, limit: int) -> list[int]:
    rows = await conn.fetch(f"SELECT DISTINCT r.product FROM reservation r WHERE {_LAPSED} LIMIT $1", limit)
    return [r["product"] for r in rows]


# --- writes (the caller holds the products' locks) -----------------------------------------------


async def insert_holds(
    conn: asyncpg.Connection,
    product_ids: Sequence[int],
    order_refs: Sequence[str],
    quantities: Sequence[int],
    ttl_seconds: Sequence[int],
    locations: Sequence[str | None],
    now: datetime,
) -> dict[tuple[int, str], ReservationRecord]:
    """New holds, and what they add to their products' `reserved` (and `held`), in one statement; by
    (product, order)."""
    rows = await conn.fetch(
        f"""WITH r AS (
                INSERT INTO reservation (product, order_ref, quantity, location, created_at, expires_at)
                SELECT product, order_ref, quantity, location, $4::timestamptz,
                       $4::timestamptz + make_interval(secs => ttl)
                FROM unnest($1::bigint[], $2::text[], $3::int[], $5::int[], $6::text[])
                     AS n(product, order_ref, quantity, ttl, location)
                RETURNING *),
            held AS ({_change_reserved("r")})
            SELECT {_SELECT} FROM r JOIN product p ON p.id = r.product""",
        list(product_ids), list(order_refs), list(quantities), now, list(ttl_seconds), list(locations),
    )  # fmt: skip
    return {(r["product"], r["order_ref"]): record_from(r, now) for r in rows}


async def release_for_sales(conn: asyncpg.Connection, holds: Sequence[ReservationRecord]) -> None:
    """Confirmed holds stop counting as reserved (and as held at their locations) as their stock
    leaves (before the sales' figures are saved: the database checks on hand >= reserved)."""
    await conn.execute(
        _change_reserved("unnest($1::bigint[], $2::text[], $3::bigint[]) AS v(product, location, quantity)"),
        [h.product_id for h in holds], [h.location for h in holds], [-h.quantity for h in holds],
    )  # fmt: skip


async def mark_confirmed(
    conn: asyncpg.Connection,
    reservation_ids: Sequence[int],
    now: datetime,
    unit_prices: Sequence[Decimal],
    transaction_ids: Sequence[int | None],
) -> None:
    """Holds confirmed, each by its sale `transaction_ids` (their `reserved` released by `release_for_sales`)."""
    await conn.execute(
        """UPDATE reservation SET status = 'confirmed', ended_at = $2, unit_price = c.unit_price,
                  transaction_id = c.transaction_id
           FROM unnest($1::bigint[], $3::numeric[], $4::bigint[]) AS c(id, unit_price, transaction_id)
           WHERE reservation.id = c.id""",
        list(reservation_ids), now, list(unit_prices), list(transaction_ids),
    )  # fmt: skip


async def cancel(conn: asyncpg.Connection, reservation_ids: Sequence[int], now: datetime) -> None:
    """Holds cancelled, and no longer reserved."""
    await conn.execute(
        f"""WITH r AS (UPDATE reservation SET status = 'cancelled', ended_at = $2 WHERE id = ANY($1::bigint[])
                RETURNING product, location, -quantity AS quantity)
            {_change_reserved("r")}""",
        list(reservation_ids), now,
    )  # fmt: skip


async def expire_lapsed_holds(conn: asyncpg.Connection, product_ids: Sequence[int]) -> None:
    """Mark active holds past their time as expired and release what they held."""
    await conn.execute(
        f"""WITH gone AS (
               UPDATE reservation r SET status = 'expired', ended_at = expires_at
               WHERE r.product = ANY($1::bigint[]) AND {_LAPSED}
               RETURNING product, location, -quantity AS quantity)
            {_change_reserved("gone")}""",
        list(product_ids),
    )  # fmt: skip
