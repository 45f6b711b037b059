"""Recompute one product from the earliest affected point, inside the caller's transaction.

The caller holds the product's locks. Work grows with the rows after the
affected point: one index probe for the position before it, reads of the rows
after it in chunks, and one bulk write per chunk of the rows whose figures
changed, sent while the next chunk is read and folded (see writeback.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import asyncpg

from app.display import Display
from app.domain.access import ClosedPeriod
from app.domain.errors import Conflict
from app.domain.immutable import immutable
from app.domain.ledger import (
    EMPTY,
    Breach,
    Entry,
    Gone,
    Position,
    Posted,
    Replay,
    Settled,
    Stored,
    TimelineKey,
    refold,
    replay,
    timeline,
)
from app.domain.rules import MAIN, TxType
from app.domain.summary import rebased, totals_of
from app.persistence import ledger_rows
from app.persistence.records import LedgerRow, ProductRecord
from app.services.gc_pause import gc_paused
from app.services.piecemeal_free import free_piecemeal
from app.services.writeback import Writeback, fold_off_the_loop


@immutable
class Rewrite:
    product: ProductRecord  # figures after the change
    placed: tuple[Posted, ...]  # the placed entries with their figures, in timeline order


def breach_conflict(breach: Breach, sku: str, shown: Display, *, several_locations: bool = False) -> Conflict:
    """The rejection names the breaking transaction as the timeline shows it ("the sale of 6 on
    Nov 23, 2026 11:00") and, once the product's stock is in several places, the location;
    `extra` keeps its id, seq, ISO time and location for API clients."""
    e = breach.entry
    named = shown.transaction(e.type.value, e.quantity, e.at, new=e.id is None)
    where = f" at {breach.location}" if several_locations or breach.location != MAIN else ""
    after, before = shown.units(breach.stock_would_be), shown.units(breach.stock_before)
    return Conflict(
        f"Rejected for {sku}: {named} would leave stock{where} at {after}; "
        f"only {before} on hand{' there' if where else ''} at that point. Nothing was changed.",
        {
            "sku": sku,
            "transaction_id": e.id,
            "seq": e.seq,
            "type": e.type.value,
            "quantity": e.quantity,
            "at": e.at.isoformat(),
            "location": breach.location,
            "stock_before": breach.stock_before,
            "stock_after": breach.stock_would_be,
        },
    )


@immutable
class RefoldChunks:
    """How many rows a refold reads at a time: `first` before the first check for a settled
    refold; later reads grow 4× up to `largest`, small enough that the write of one chunk overlaps
    the fold of the next. From Settings.refold_chunk (INVENTORY_REFOLD_CHUNK); the test suite sets a
    tiny first chunk so that every refold in it crosses chunk boundaries."""

    # 1,024 / 4,096 (not 4,096 / 16,384): each chunk's decoding and write are the refold's work left on
    # the event loop; smaller pieces kept other products' sales at p99 74–95 ms during a 100,000-row
    # edit against 249–268 ms, and the edit itself no slower (docs/performance.md, issue 12)
    first: int = 1024
    largest: int = 4 * 1024

    @classmethod
    def starting_at(cls, first: int) -> RefoldChunks:
        return cls(first, 4 * first)


DEFAULT_CHUNKS = RefoldChunks()


@immutable
class Splice:
    """What a rewrite changes in one product's timeline: a stored row taken out, entries put in."""

    drop: LedgerRow | None
    places: tuple[Entry, ...]
    start: TimelineKey  # the earliest point it touches: the refold starts there
    horizon: TimelineKey  # the latest: past it, a refold that meets the stored figures has settled
    placing: frozenset[int]  # the seqs of `places` (unique in the timeline): these rows are written apart

    @classmethod
    def of(cls, drop: LedgerRow | None, places: Sequence[Entry]) -> Splice:
        keys = [x.key for x in [*([drop.entry] if drop else []), *places]]
        return cls(drop, tuple(places), min(keys), max(keys), frozenset(e.seq for e in places))

    @property
    def dropped_id(self) -> int | None:
        return self.drop.entry.id if self.drop else None

    @property
    def locations(self) -> frozenset[str]:
        """Every location whose stock it moves: only there can stock differ from what is stored."""
        return frozenset(code for e in self.entries for code in e.locations)

    @property
    def watch(self) -> frozenset[str]:
        """The locations a refold must see back at their stored stock before it settles: none when
        the change moves one location's stock (any difference there shows in the total)."""
        return self.locations if len(self.locations) > 1 else frozenset()

    @property
    def gone(self) -> Gone | None:
        """The dropped row at its old place, for a refold that watches locations."""
        if self.drop is None or not self.watch:
            return None
        figures = self.drop.figures
        return Gone(self.drop.entry, figures.location_stock_after, figures.to_location_stock_after)

    @property
    def entries(self) -> list[Entry]:
        """Every entry it touches: the dropped one and the placed ones."""
        return [*([self.drop.entry] if self.drop else []), *self.places]


@immutable
class _Refold:
    """Where a refold of one product reads its rows and writes their new figures."""

    conn: asyncpg.Connection
    reader: asyncpg.Connection | None  # reads ahead while `conn` writes; None: `conn` does both
    product_id: int
    writeback: Writeback
    chunks: RefoldChunks


async def rewrite(
    conn: asyncpg.Connection,
    product: ProductRecord,
    *,
    drop: LedgerRow | None,
    places: Sequence[Entry] = (),
    closed: ClosedPeriod,
    chunks: RefoldChunks,
    display: Display,
    reader: asyncpg.Connection | None = None,
) -> Rewrite:
    """Take `drop` out of the product's timeline and put `places` in; refold what follows.
    Every ledger change passes here, so this is where the closed period is enforced.

    `reader`, a second connection, reads the rows to refold while `conn` writes back the
    chunks before them. Only for callers whose transaction has not yet written this
    product's rows: the reader sees committed rows only (the product lock keeps others out).
    `display` names the breaking transaction in a refusal as the pages show it."""
    splice = Splice.of(drop, places)
    _refuse_closed(closed, splice.entries, display)
    return await _rewrite(conn, reader, product, splice, chunks, display)


def append(product: ProductRecord, entry: Entry, *, closed: ClosedPeriod, display: Display) -> Rewrite:
    """Put `entry`, newer than every row of the product (`product.follows(entry.key)`: every sale),
    at the end of its timeline: one step of the fold on the product's stored end, nothing read or
    rewritten, so no await. The same rules as `rewrite`: the closed period, no location below 0,
    on hand at or above what is reserved."""
    _refuse_closed(closed, (entry,), display)
    outcome = replay((entry,), product.position, product.stocks or None)
    touched = frozenset(entry.locations)
    if isinstance(outcome, Breach):
        raise _refusal(outcome, product, touched, display)
    end, stocks, last_key = _end_of(product, outcome, product.last_key, touched)
    _check_reserved(product, end, stocks)
    (placed,) = outcome.posted
    kind, at = entry.type, entry.at
    after = product.with_figures(
        end, stocks, totals_of(outcome.posted, product.totals), product.tx_count + 1, last_key,
        at if kind is TxType.COUNT else product.last_counted_at,  # it is the newest
        at if kind is TxType.SELL else product.last_sale_at,
    )  # fmt: skip
    return Rewrite(after, (placed,))


def _refusal(breach: Breach, product: ProductRecord, touched: frozenset[str], shown: Display) -> Conflict:
    """The 409 of a change that breaks a later row; it names the location once the product's stock is
    (or the change would put it) anywhere but MAIN."""
    several = product.several_locations or bool(touched - {MAIN})
    return breach_conflict(breach, product.sku, shown, several_locations=several)


def _refuse_closed(closed: ClosedPeriod, entries: Sequence[Entry], shown: Display) -> None:
    for entry in entries:
        if closed.covers(entry.at):
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
    splice: Splice,
    chunks: RefoldChunks,
    display: Display,
) -> Rewrite:
    async with Writeback(conn, product.id, splice.dropped_id, splice.placing) as writeback:
        if splice.drop is None and product.follows(splice.start):
            # An append (every sale) reads nothing.
            before_key = product.last_key
            # The fold takes its own copy of the stocks; none (all in MAIN) for a product never moved.
            outcome = refold(product.position, timeline(splice.places), splice.horizon, product.stocks or None)
        else:
            start, before_key = await _position_before(conn, product.id, splice.start)
            stocks = await _stocks_before(conn, product, splice, start)
            # Only a refold that reads rows pauses the collector: an append never does.
            with gc_paused():
                run = _Refold(conn, reader, product.id, writeback, chunks)
                outcome = await _refold_from(run, start, stocks, splice)
        if isinstance(outcome, Breach):
            raise _refusal(outcome, product, splice.locations, display)
        end, end_stocks, last_key = _end_of(product, outcome, before_key, splice.locations)
        _check_reserved(product, end, end_stocks)
        await writeback.finish(outcome.posted)

    placed = tuple(p for p in outcome.posted if p.entry.seq in splice.placing)
    # The refold's rows, freed a piece at a time from here: `del` drops this frame's last reference to
    # them before the next await, where the freeing begins.
    free_piecemeal(outcome.posted)
    del outcome
    removed = [splice.drop.posted] if splice.drop else []
    after = replace(
        product,
        position=end,
        stocks=end_stocks,
        totals=rebased(product.totals, removed, placed) + writeback.moved,
        tx_count=product.tx_count + len(splice.places) - (splice.drop is not None),
        last_key=last_key,
    )
    after = await _refresh_latest(conn, after, splice)
    return Rewrite(after, placed)


def _timeline_key(row: Stored | Entry | Gone) -> TimelineKey:
    return row.key if isinstance(row, Entry) else row.entry.key


async def _stocks_before(
    conn: asyncpg.Connection, product: ProductRecord, splice: Splice, start: Position
) -> dict[str, int] | None:
    """The stock by location where the refold starts. A product whose ledger and change stay in
    MAIN has it all there (no read); otherwise two index probes per other location it uses, and
    MAIN holds the rest of the total."""
    others = (set(product.stocks) | splice.locations) - {MAIN}
    if not others:
        return None
    found = await ledger_rows.stocks_before(conn, product.id, splice.start, sorted(others))
    main = start.stock - sum(found.values())
    return {**found, MAIN: main} if main or MAIN in product.stocks else found


async def _refold_from(
    run: _Refold, start: Position, stocks: Mapping[str, int] | None, splice: Splice
) -> Replay | Settled | Breach:
    """Read and refold in growing chunks, from `splice.start`, until the fold settles or the
    timeline ends. Each chunk's figures are sent to the database while the next chunk folds
    (and, with a reader, while it is read)."""
    read_from, dropped_id, writeback = run.reader or run.conn, splice.dropped_id, run.writeback
    folded: list[Posted] = []
    position, limit, key = start, run.chunks.first, splice.start
    pending: list[Entry | Gone] = sorted([*splice.places, *filter(None, [splice.gone])], key=_timeline_key)
    watched: Mapping[str, int] = {code: (stocks or {}).get(code, 0) for code in splice.watch}
    chunk = await ledger_rows.rows_from(read_from, run.product_id, key, dropped_id, limit)
    while True:
        is_last = len(chunk) < limit
        rows: list[Stored | Entry | Gone] = list(chunk)
        due = len(pending) if is_last else bisect_left([_timeline_key(e) for e in pending], chunk[-1].entry.key)
        if due:
            rows = sorted([*rows, *pending[:due]], key=_timeline_key)
            del pending[:due]
        outcome = await fold_off_the_loop(position, rows, splice.horizon, stocks, watched)
        await writeback.wait()
        if isinstance(outcome, Breach):
            free_piecemeal(folded)  # the rows folded before the breach
            return outcome
        folded.extend(outcome.posted)
        if isinstance(outcome, Settled):
            return Settled(tuple(folded))
        if is_last:
            return Replay(tuple(folded), outcome.end, outcome.stocks)
        position, stocks, watched = outcome.end, outcome.stocks, outcome.watched  # the next fold copies them
        limit = min(limit * 4, run.chunks.largest)
        last = chunk[-1].entry
        key = (last.at, last.seq + 1)  # keys are unique, so this is "strictly after `last`"
        if run.reader is None:  # one connection: read, then write
            chunk = await ledger_rows.rows_from(run.conn, run.product_id, key, dropped_id, limit)
            await writeback.send_early(outcome.posted)
        else:
            await writeback.send_early(outcome.posted)
            chunk = await ledger_rows.rows_from(run.reader, run.product_id, key, dropped_id, limit)


def _end_of(
    product: ProductRecord, outcome: Replay | Settled, before_key: TimelineKey | None, touched: frozenset[str]
) -> tuple[Position, dict[str, int], TimelineKey | None]:
    """Where the timeline now ends, and the stock by location there. A settled refold leaves the end
    as stored, at every location. Every location the ledger has used stays listed, at 0 if it holds
    nothing: those listed before and those the change `touched` (a settled one first using a place)."""
    if isinstance(outcome, Settled):
        position, stocks, last_key = product.position, dict(product.stocks), product.last_key
    else:
        position, stocks = outcome.end, dict(outcome.stocks)
        last_key = outcome.posted[-1].entry.key if outcome.posted else before_key
    for code in (*product.stocks, *touched):
        stocks.setdefault(code, 0)
    return position, stocks, last_key


async def _position_before(
    conn: asyncpg.Connection, product_id: int, key: TimelineKey
) -> tuple[Position, TimelineKey | None]:
    found = await ledger_rows.point_before(conn, product_id, key)
    return found if found else (EMPTY, None)


def _check_reserved(product: ProductRecord, end: Position, stocks: dict[str, int]) -> None:
    """On hand stays at or above what is reserved: in total, and at each location that
    reservations naming it hold stock at."""
    if end.stock < product.reserved:
        raise Conflict(
            f"Rejected for {product.sku}: on hand would be {end.stock}, "
            f"below the {product.reserved} reserved for orders. Nothing was changed.",
            {"sku": product.sku, "on_hand": end.stock, "reserved": product.reserved},
        )
    for code, held in product.held.items():
        there = stocks.get(code, 0)
        if there < held:
            raise Conflict(
                f"Rejected for {product.sku}: on hand at {code} would be {there}, "
                f"below the {held} reserved there for orders. Nothing was changed.",
                {"sku": product.sku, "location": code, "on_hand": there, "reserved": held},
            )


async def _refresh_latest(conn: asyncpg.Connection, product: ProductRecord, splice: Splice) -> ProductRecord:
    """`last_counted_at` / `last_sale_at` only need a look when a COUNT or SELL moved."""
    touched = {x.type for x in splice.entries}
    counted, sold = product.last_counted_at, product.last_sale_at
    if TxType.COUNT in touched:
        counted = await _latest(conn, product, TxType.COUNT, splice, counted)
    if TxType.SELL in touched:
        sold = await _latest(conn, product, TxType.SELL, splice, sold)
    return replace(product, last_counted_at=counted, last_sale_at=sold)


async def _latest(
    conn: asyncpg.Connection, product: ProductRecord, kind: TxType, splice: Splice, current: datetime | None
) -> datetime | None:
    # Unless a row of this kind left, the latest can only move later, through the placed entries.
    drop = splice.drop
    if drop is None or drop.entry.id is None or drop.entry.type is not kind:
        latest = current
    else:
        latest = await ledger_rows.latest_at(conn, product.id, kind, exclude_id=drop.entry.id)
    for place in splice.places:
        if place.type is kind and (latest is None or place.at > latest):
            latest = place.at
    return latest
