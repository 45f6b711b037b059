"""Recompute one product from the earliest affected point, inside the caller's transaction.

The caller holds the product's locks. Work grows with the rows after the
affected point: one index probe for the position before it, one read of the
rows after it, one bulk write of the rows whose figures changed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from app.domain.errors import Conflict
from app.domain.ledger import EMPTY, Breach, Entry, Position, Posted, Replay, TimelineKey, replay
from app.domain.rules import TxType
from app.domain.summary import rebased
from app.services import ledger_repo as repo
from app.services.gc_pause import gc_paused
from app.services.records import LedgerRow, ProductRecord


@dataclass(frozen=True, slots=True)
class Rewrite:
    product: ProductRecord  # figures after the change
    placed: Posted | None  # the new version of the changed row, with its figures


def breach_conflict(breach: Breach, sku: str) -> Conflict:
    e = breach.entry
    return Conflict(
        f"Rejected for {sku}: {breach.describe()}. Nothing was changed.",
        {
            "sku": sku,
            "transaction_id": e.id,
            "seq": e.seq,
            "type": e.type.value,
            "quantity": e.quantity,
            "at": e.at.isoformat(),
            "stock_before": breach.stock_before,
            "stock_after": breach.stock_would_be,
        },
    )


async def rewrite(
    conn: asyncpg.Connection, product: ProductRecord, *, drop: LedgerRow | None, place: Entry | None
) -> Rewrite:
    """Take `drop` out of the product's timeline and put `place` in; refold what follows."""
    keys = [x.key for x in (drop.entry if drop else None, place) if x is not None]
    start_key = min(keys)
    dropped_id = drop.entry.id if drop else None
    if drop is None and place is not None and product.follows(place.key):
        start, before_key, tail = product.position, product.last_key, []  # an append reads nothing
    else:
        start, before_key = await _position_before(conn, product.id, start_key)
        with gc_paused():
            tail = await repo.rows_from(conn, product.id, start_key, dropped_id)

    with gc_paused():
        outcome = replay([r.entry for r in tail] + ([place] if place else []), start)
    if isinstance(outcome, Breach):
        raise breach_conflict(outcome, product.sku)
    _check_reserved(product, outcome)

    placed = next((p for p in outcome.posted if place is not None and p.entry is place), None)
    refolded = zip(tail, _without(outcome.posted, placed), strict=True)
    changed = [(old, new) for old, new in refolded if old.figures != new.figures]
    await repo.update_figures(conn, [new for _, new in changed])

    # Rows whose figures did not change add the same to the totals before and after.
    removed = [old for old, _ in changed] + ([drop.posted] if drop else [])
    added = [new for _, new in changed] + ([placed] if placed else [])
    after = replace(
        product,
        position=outcome.end,
        totals=rebased(product.totals, removed, added),
        tx_count=product.tx_count + (place is not None) - (drop is not None),
        last_key=outcome.posted[-1].entry.key if outcome.posted else before_key,
    )
    after = await _refresh_latest(conn, after, drop, place)
    return Rewrite(after, placed)


async def _position_before(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey
) -> tuple[Position, TimelineKey | None]:
    found = await repo.point_before(conn, product_id, key)
    return found if found else (EMPTY, None)


def _without(posted: tuple[Posted, ...], placed: Posted | None) -> list[Posted]:
    return [p for p in posted if p is not placed]


def _check_reserved(product: ProductRecord, outcome: Replay) -> None:
    if outcome.end.stock < product.reserved:
        raise Conflict(
            f"Rejected for {product.sku}: on hand would be {outcome.end.stock}, "
            f"below the {product.reserved} reserved for orders. Nothing was changed.",
            {"sku": product.sku, "on_hand": outcome.end.stock, "reserved": product.reserved},
        )


async def _refresh_latest(
    conn: asyncpg.Connection, product: ProductRecord, drop: LedgerRow | None, place: Entry | None
) -> ProductRecord:
    """`last_counted_at` / `last_sale_at` only need a look when a COUNT or SELL moved."""
    touched = {x.type for x in (drop.entry if drop else None, place) if x is not None}
    counted, sold = product.last_counted_at, product.last_sale_at
    if TxType.COUNT in touched:
        counted = await _latest(conn, product, TxType.COUNT, drop, place, counted)
    if TxType.SELL in touched:
        sold = await _latest(conn, product, TxType.SELL, drop, place, sold)
    return replace(product, last_counted_at=counted, last_sale_at=sold)


async def _latest(
    conn: asyncpg.Connection,
    product: ProductRecord,
    kind: TxType,
    drop: LedgerRow | None,
    place: Entry | None,
    current: datetime | None,
) -> datetime | None:
    if (
        drop is None or drop.entry.id is None or drop.entry.type is not kind
    ):  # nothing of this kind left: only `place` can move it later
        latest = current
    else:
        latest = await repo.latest_at(conn, product.id, kind, exclude_id=drop.entry.id)
    if place is not None and place.type is kind and (latest is None or place.at > latest):
        latest = place.at
    return latest
