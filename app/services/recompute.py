"""Recompute one product from the earliest affected point, inside the caller's transaction.

The caller holds the product's locks. Work grows with the rows after the
affected point: one index probe for the position before it, reads of the rows
after it in chunks, and one bulk write per chunk of the rows whose figures
changed, sent while the next chunk is read and folded (see writeback.py).
"""

from __future__ import annotations

import os
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import asyncpg

from app.display import shop_display
from app.domain.access import ClosedPeriod
from app.domain.errors import Conflict
from app.domain.ledger import (
    EMPTY,
    Breach,
    Entry,
    Position,
    Posted,
    Replay,
    Settled,
    Stored,
    TimelineKey,
    refold,
    timeline,
)
from app.domain.rules import TxType
from app.domain.summary import rebased
from app.services import ledger_repo as repo
from app.services.gc_pause import gc_paused
from app.services.records import LedgerRow, ProductRecord
from app.services.writeback import Writeback, fold_in_slices


@dataclass(frozen=True, slots=True)
class Rewrite:
    product: ProductRecord  # figures after the change
    placed: tuple[Posted, ...]  # the placed entries with their figures, in timeline order


def breach_conflict(breach: Breach, sku: str) -> Conflict:
    """The rejection names the breaking transaction as the timeline shows it ("the sale of 6 on
    Nov 23, 2026 11:00"); `extra` keeps its id, seq and ISO time for API clients."""
    e = breach.entry
    named = shop_display().transaction(e.type.value, e.quantity, e.at, new=e.id is None)
    return Conflict(
        f"Rejected for {sku}: {named} would leave stock at {breach.stock_would_be}; "
        f"only {breach.stock_before} on hand at that point. Nothing was changed.",
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


# Rows read before the first check for a settled refold; later reads grow 4× up to
# LARGEST_CHUNK, small enough that the write of one chunk overlaps the fold of the next.
# The test suite sets a tiny first chunk so that every refold in it crosses chunk boundaries.
FIRST_CHUNK = int(os.environ.get("INVENTORY_REFOLD_CHUNK", "4096"))
LARGEST_CHUNK = 4 * FIRST_CHUNK


async def rewrite(
    conn: asyncpg.Connection,
    product: ProductRecord,
    *,
    drop: LedgerRow | None,
    places: Sequence[Entry] = (),
    closed: ClosedPeriod,
    reader: asyncpg.Connection | None = None,
) -> Rewrite:
    """Take `drop` out of the product's timeline and put `places` in; refold what follows.
    Every ledger change passes here, so this is where the closed period is enforced.

    `reader`, a second connection, reads the rows to refold while `conn` writes back the
    chunks before them. Only for callers whose transaction has not yet written this
    product's rows: the reader sees committed rows only (the product lock keeps others out)."""
    _refuse_closed(closed, drop, places)
    return await _rewrite(conn, reader, product, drop, places)


def _refuse_closed(closed: ClosedPeriod, drop: LedgerRow | None, places: Sequence[Entry]) -> None:
    for entry in [*([drop.entry] if drop else []), *places]:
        if closed.covers(entry.at):
            shown = shop_display()
            what = shown.transaction(entry.type.value, entry.quantity, entry.at, new=entry.id is None)
            raise Conflict(
                f"The books are closed through {shown.day(closed.through)}: {what} falls in that period, "
                "so it cannot be created, edited or deleted",
                {"books_closed_through": str(closed.through), "at": entry.at.isoformat(), "seq": entry.seq},
            )


async def _rewrite(
    conn: asyncpg.Connection,
    reader: asyncpg.Connection | None,
    product: ProductRecord,
    drop: LedgerRow | None,
    places: Sequence[Entry],
) -> Rewrite:
    keys = [x.key for x in [*([drop.entry] if drop else []), *places]]
    start_key, horizon = min(keys), max(keys)
    placing = {id(e) for e in places}
    async with Writeback(conn, product.id, drop.entry.id if drop else None, placing) as writeback:
        if drop is None and product.follows(start_key):
            before_key, outcome = product.last_key, refold(product.position, timeline(places), horizon)  # reads nothing
        else:
            start, before_key = await _position_before(conn, product.id, start_key)
            # Only a refold that reads rows pauses the collector: an append (every sale) never does.
            with gc_paused():
                outcome = await _refold_from(
                    conn, reader, product.id, start, start_key, drop, places, horizon, writeback
                )
        if isinstance(outcome, Breach):
            raise breach_conflict(outcome, product.sku)
        end, last_key = _end_of(product, outcome, before_key)
        _check_reserved(product, end)
        await writeback.finish(outcome.posted)

    placed = tuple(p for p in outcome.posted if id(p.entry) in placing)
    removed = [drop.posted] if drop else []
    after = replace(
        product,
        position=end,
        totals=rebased(product.totals, removed, placed) + writeback.moved,
        tx_count=product.tx_count + len(places) - (drop is not None),
        last_key=last_key,
    )
    after = await _refresh_latest(conn, after, drop, places)
    return Rewrite(after, placed)


def _timeline_key(row: Stored | Entry) -> TimelineKey:
    return row.key if isinstance(row, Entry) else row.entry.key


async def _refold_from(
    conn: asyncpg.Connection,
    reader: asyncpg.Connection | None,
    product_id: int,
    start: Position,
    key: TimelineKey,
    drop: LedgerRow | None,
    places: Sequence[Entry],
    horizon: TimelineKey,
    writeback: Writeback,
) -> Replay | Settled | Breach:
    """Read and refold in growing chunks until the fold settles or the timeline ends. Each
    chunk's figures are sent to the database while the next chunk folds (and, with a
    reader, while it is read)."""
    dropped_id = drop.entry.id if drop else None
    folded: list[Posted] = []
    position, limit, pending = start, FIRST_CHUNK, timeline(places)
    chunk = await repo.rows_from(reader or conn, product_id, key, dropped_id, limit)
    while True:
        is_last = len(chunk) < limit
        rows: list[Stored | Entry] = list(chunk)
        due = len(pending) if is_last else bisect_left([e.key for e in pending], chunk[-1].entry.key)
        if due:
            rows = sorted([*rows, *pending[:due]], key=_timeline_key)
            del pending[:due]
        outcome = await fold_in_slices(position, rows, horizon)
        await writeback.wait()
        if isinstance(outcome, Breach):
            return outcome
        folded.extend(outcome.posted)
        if isinstance(outcome, Settled):
            return Settled(tuple(folded))
        if is_last:
            return Replay(tuple(folded), outcome.end)
        position, limit = outcome.end, min(limit * 4, LARGEST_CHUNK)
        last = chunk[-1].entry
        key = (last.at, last.seq + 1)  # keys are unique, so this is "strictly after `last`"
        if reader is None:
            chunk = await repo.rows_from(conn, product_id, key, dropped_id, limit)
            await writeback.send_early(outcome.posted)
        else:
            await writeback.send_early(outcome.posted)
            chunk = await repo.rows_from(reader, product_id, key, dropped_id, limit)


def _end_of(
    product: ProductRecord, outcome: Replay | Settled, before_key: TimelineKey | None
) -> tuple[Position, TimelineKey | None]:
    """Where the timeline now ends. A settled refold leaves the end as stored."""
    if isinstance(outcome, Settled):
        return product.position, product.last_key
    return outcome.end, outcome.posted[-1].entry.key if outcome.posted else before_key


async def _position_before(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey
) -> tuple[Position, TimelineKey | None]:
    found = await repo.point_before(conn, product_id, key)
    return found if found else (EMPTY, None)


def _check_reserved(product: ProductRecord, end: Position) -> None:
    if end.stock < product.reserved:
        raise Conflict(
            f"Rejected for {product.sku}: on hand would be {end.stock}, "
            f"below the {product.reserved} reserved for orders. Nothing was changed.",
            {"sku": product.sku, "on_hand": end.stock, "reserved": product.reserved},
        )


async def _refresh_latest(
    conn: asyncpg.Connection, product: ProductRecord, drop: LedgerRow | None, places: Sequence[Entry]
) -> ProductRecord:
    """`last_counted_at` / `last_sale_at` only need a look when a COUNT or SELL moved."""
    touched = {x.type for x in [*([drop.entry] if drop else []), *places]}
    counted, sold = product.last_counted_at, product.last_sale_at
    if TxType.COUNT in touched:
        counted = await _latest(conn, product, TxType.COUNT, drop, places, counted)
    if TxType.SELL in touched:
        sold = await _latest(conn, product, TxType.SELL, drop, places, sold)
    return replace(product, last_counted_at=counted, last_sale_at=sold)


async def _latest(
    conn: asyncpg.Connection,
    product: ProductRecord,
    kind: TxType,
    drop: LedgerRow | None,
    places: Sequence[Entry],
    current: datetime | None,
) -> datetime | None:
    # Unless a row of this kind left, the latest can only move later, through `places`.
    if drop is None or drop.entry.id is None or drop.entry.type is not kind:
        latest = current
    else:
        latest = await repo.latest_at(conn, product.id, kind, exclude_id=drop.entry.id)
    for place in places:
        if place.type is kind and (latest is None or place.at > latest):
            latest = place.at
    return latest
