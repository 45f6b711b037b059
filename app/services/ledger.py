"""The ledger service: record, edit and delete transactions under the product locks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

import asyncpg

from app.display import Display
from app.domain.access import ClosedPeriod, Role, at_own_location, refuse_outside, role_to_record
from app.domain.commands import TransactionInput
from app.domain.errors import Conflict, FieldError, InvalidInput, NotFound
from app.domain.immutable import immutable
from app.domain.ledger import Entry, Posted, TimelineKey
from app.domain.rules import TxType
from app.domain.voids import refuse_void
from app.intake.requests import merge_transaction_patch, parse_transaction
from app.persistence import audit, counter, ledger_rows, settings
from app.persistence import products as product_repo
from app.persistence import reservations as reservation_repo
from app.persistence.database import Database
from app.persistence.records import LedgerRow, ProductRecord
from app.services import idempotency
from app.services.coalesced import Coalesced
from app.services.events import announce
from app.services.group_commit import GroupCommit, Queued, release_earlier_answers
from app.services.idempotency import Key, Repeated, first_claim
from app.services.locations import LocationService
from app.services.locks import ProductLocks, commit_where_free, lock_in_database
from app.services.outcomes import Change, ProductChange, Voided
from app.services.recompute import DEFAULT_CHUNKS, RefoldChunks, Rewrite, append, rewrite


def utc_now() -> datetime:
    return datetime.now(UTC)


def _entry(data: TransactionInput, seq: int, now: datetime, default_location: str, tx_id: int | None = None) -> Entry:
    """The entry of a transaction as entered: "now" and "the product's default location" settled."""
    return Entry(
        seq, data.at or now, data.type, data.quantity, data.unit_price, data.reason, tx_id,
        data.location or default_location, data.to_location,
    )  # fmt: skip


def _transfer_in_place(entry: Entry) -> InvalidInput | None:
    """A TRANSFER to where it starts (its `location` may be the product's default, not named)."""
    if entry.to_location == entry.location:
        return InvalidInput([FieldError("to_location", f"must differ from location ({entry.location})")])
    return None


class LedgerService:
    def __init__(
        self,
        locks: ProductLocks,
        zone: tzinfo,
        *,
        db: Database,
        max_batch: int = 500,
        clock: Callable[[], datetime] = utc_now,
        chunks: RefoldChunks = DEFAULT_CHUNKS,
        display: Display,
    ) -> None:
        self.db = db
        self.locations = LocationService(db)  # the codes a transaction may name
        self.locks = locks
        self.zone = zone
        self.clock = clock
        self.chunks = chunks  # how a refold reads (Settings.refold_chunk)
        self.display = display  # the shop's formats (create_app's, made once): refusals name transactions with it
        self._group = GroupCommit(self._commit_batch, max_batch)
        self._ids: dict[str, int] = {}
        self._unknown_ids: Coalesced[str, int] = Coalesced(self._read_ids)

    async def rewrite(
        self,
        conn: asyncpg.Connection,
        product: ProductRecord,
        *,
        drop: LedgerRow | None,
        places: Sequence[Entry] = (),
        closed: ClosedPeriod,
        reader: asyncpg.Connection | None = None,
    ) -> Rewrite:
        """recompute.rewrite with this ledger's refold chunks and display: every ledger change
        (a reservation's sale and the CSV import's rows too) passes here."""
        return await rewrite(
            conn, product, drop=drop, places=places, closed=closed, chunks=self.chunks, display=self.display,
            reader=reader,
        )  # fmt: skip

    def parse(self, raw: Mapping[str, Any]) -> TransactionInput:
        return parse_transaction(raw, now=self.clock(), zone=self.zone)

    def role_to_record(self, data: TransactionInput) -> Role:
        return role_to_record(data.type, data.at, self.clock(), self.zone)

    # --- record ---------------------------------------------------------------------------

    async def record(
        self, data: TransactionInput, *, dry_run: bool = False, key: Key | None = None, within: str | None = None
    ) -> Change:
        """Record a new transaction. With an idempotency key, a repeat raises `Repeated` (the key
        keeps the change, or its refusal). A dry run is the same work under the same locks, in a
        transaction rolled back at exit: it returns the change it would make. `within`: the location
        the caller is limited to (their transaction is there, and may name no other), None for all."""
        data = at_own_location(data, within)
        product_id = await self.product_id(data.sku)
        await self.check_locations(data)
        if not dry_run:
            return await self._group.submit(Queued(product_id, data, key))
        (result,) = await commit_where_free(
            self.db, self.locks, [Queued(product_id, data)], self._commit_held, wait=True, block=True, commit=False
        )
        if isinstance(result, Exception):
            raise result
        return result

    async def _commit_batch(self, batch: list[Queued], wait: bool = True) -> list[Change | Exception]:
        """Commit new transactions, on any products, in one database transaction. Without
        `wait`, products whose lock is held (here or in another process) are not waited for:
        their requests are answered `Busy`, and group commit commits them apart."""
        return await commit_where_free(self.db, self.locks, batch, self._commit_held, wait=wait)

    async def _commit_held(
        self, conn: asyncpg.Connection, batch: list[Queued], product_ids: list[int]
    ) -> list[Change | Exception]:
        """The batch's rows, under its products' locks (all held), in the caller's transaction."""
        start = await product_repo.batch_start(conn, product_ids, len(batch))
        products, seqs, closed = start.products, start.seqs, ClosedPeriod(start.closed_through, self.zone)
        await release_lapsed_holds(conn, *products.values())
        owned = await idempotency.claim(conn, [q.key for q in batch if q.key])
        release_earlier_answers()  # read: the fold and the writes are left
        results: list[Change | Exception] = []
        pending: list[_NewRow] = []
        # A product's entries from the first one that goes into its past (a sale dated a few seconds
        # ago, or any sale once a row is dated later): placed after the loop, together when they can be.
        into_the_past: dict[int, list[_Placing]] = {}
        for queued, seq in zip(batch, seqs, strict=True):
            if queued.key and not first_claim(queued.key, owned):
                results.append(Repeated(queued.key))
                continue
            product = products[queued.product_id]
            entry = _entry(queued.data, seq, self.clock(), product.default_location)
            if (refused := _transfer_in_place(entry)) is not None:
                results.append(refused)
                continue
            if product.id in into_the_past or not product.follows(entry.key):
                into_the_past.setdefault(product.id, []).append(_Placing(len(results), entry, queued))
                results.append(conflict_placeholder)
                continue
            try:  # every sale: one step of the fold on the product's end, nothing read or rewritten
                rw = append(product, entry, closed=closed, display=self.display)
            except Conflict as conflict:
                results.append(conflict)
                continue
            pending.append(_NewRow(len(results), rw.placed[0], queued, ProductChange(product, rw.product)))
            results.append(conflict_placeholder)
            products[product.id] = rw.product
        for product_id, placing in into_the_past.items():
            await _insert(conn, pending, results)  # the refold must see them
            await self._place(conn, products, product_id, placing, closed, pending, results)
        await _insert(conn, pending, results)
        await product_repo.save_all_figures(conn, list(products.values()))
        await idempotency.keep_batch(conn, zip([q.key for q in batch], results, strict=True))
        await announce(conn, product_ids)
        return results

    async def _place(
        self, conn: asyncpg.Connection, products: dict[int, ProductRecord], product_id: int, placing: list[_Placing],
        closed: ClosedPeriod, pending: list[_NewRow], results: list[Change | Exception],
    ) -> None:  # fmt: skip
        """Put a product's entries of a batch into its timeline, in their order, each accepted or
        refused as if it came alone after those before it. Sales only take stock away, so if all of
        them together break no later row, none of them alone would: then one refold places them all
        (one alone each refolded everything after it: 600 sales dated a few seconds back, on a product
        selling 1,000 a second, took 85 s). Each is answered with its row as committed and the product
        after them all. Otherwise (a refusal among them, or another type) one by one."""
        product = products[product_id]
        if len(placing) > 1 and all(p.entry.type is TxType.SELL for p in placing):
            try:
                rw = await self.rewrite(conn, product, drop=None, places=[p.entry for p in placing], closed=closed)
            except Conflict:
                pass  # some of them are refused: which ones, only placing them one by one tells
            else:
                placed = {row.entry.seq: row for row in rw.placed}
                change = ProductChange(product, rw.product)
                pending.extend(_NewRow(p.index, placed[p.entry.seq], p.queued, change) for p in placing)
                products[product_id] = rw.product
                return
        for p in placing:
            product = products[product_id]
            try:
                if product.follows(p.entry.key):
                    rw = append(product, p.entry, closed=closed, display=self.display)
                else:
                    await _insert(conn, pending, results)  # the refold must see the rows placed before it
                    rw = await self.rewrite(conn, product, drop=None, places=[p.entry], closed=closed)
            except Conflict as conflict:
                results[p.index] = conflict
                continue
            pending.append(_NewRow(p.index, rw.placed[0], p.queued, ProductChange(product, rw.product)))
            products[product_id] = rw.product

    async def count_as_is(self, sku: str, key: Key | None = None, *, within: str | None = None) -> Change:
        """A COUNT, now, of what the books say is on hand (GraphQL's updateCheckTime: "checked, and
        found as recorded"). The quantity is read under the product's locks, in the transaction
        that records it, so no sale can slip in between: it changes no figure but the last count.
        A COUNT counts one location: the product's default, or `within` (the caller's limit), with
        the units the books hold there (the total there would add the other locations' units)."""
        product_id = await self.product_id(sku)

        async def counted(
            conn: asyncpg.Connection, batch: list[Queued], product_ids: list[int]
        ) -> list[Change | Exception]:
            product = await product_repo.by_id(conn, product_id)
            assert product is not None, "products are never deleted"
            place = within or product.default_location
            data = TransactionInput(sku, TxType.COUNT, product.stocks.get(place, 0), None, location=place)
            return await self._commit_held(conn, [Queued(product_id, data, key)], product_ids)

        (result,) = await commit_where_free(
            self.db, self.locks, [Queued(product_id, None, key)], counted, wait=True, block=True
        )
        if isinstance(result, Exception):
            raise result
        return result

    # --- edit and delete ------------------------------------------------------------------

    async def edit(
        self, tx_id: int, patch: Mapping[str, Any], *, actor: str, dry_run: bool = False, key: Key | None = None,
        within: str | None = None,
    ) -> Change:  # fmt: skip
        """Change a transaction. With an idempotency key (GraphQL's editTransaction), a repeat raises
        `Repeated` and the key keeps the change. `within`: the caller's location limit (the row, as it
        is and as it would be, touches no other location)."""
        row, old_id = await self.row(tx_id)
        new_id = await self.product_id(patch["sku"]) if patch.get("sku") not in (None, row.sku) else old_id
        return await self._edit(tx_id, patch, actor, old_id, new_id, dry_run, key, within)

    async def _edit(
        self, tx_id: int, patch: Mapping[str, Any], actor: str, old_id: int, new_id: int, dry_run: bool,
        key: Key | None = None, within: str | None = None,
    ) -> Change:  # fmt: skip
        async with (
            self.locks.hold(old_id, new_id),
            self.db.unit_of_work(commit=not dry_run) as conn,  # a dry run rolls back at exit
            self.db.spare_connection() as reader,
        ):
            await lock_in_database(conn, old_id, new_id)
            await idempotency.claim_or_repeat(conn, key)
            row = await _row_in(conn, tx_id, old_id)
            data = self.parse(merge_transaction_patch(row.as_input(), patch))
            await self.check_locations(data, conn)
            closed = await self.closed_period(conn)
            old = await product_for_change(conn, old_id)
            home = old if new_id == old_id else await product_for_change(conn, new_id)
            entry = _entry(data, row.entry.seq, self.clock(), home.default_location, tx_id)
            if (refused := _transfer_in_place(entry)) is not None:
                raise refused
            self._refuse_outside(within, "Editing", row.entry, entry)
            changes: tuple[ProductChange, ...]
            if new_id == old_id:
                rw = await self.rewrite(conn, old, drop=row, places=[entry], closed=closed, reader=reader)
                changes = (ProductChange(old, rw.product),)
            else:
                new = home
                left = await self.rewrite(conn, old, drop=row, closed=closed, reader=reader)
                rw = await self.rewrite(conn, new, drop=None, places=[entry], closed=closed, reader=reader)
                changes = (ProductChange(new, rw.product), ProductChange(old, left.product))
            await ledger_rows.replace_row(conn, new_id, rw.placed[0], data.note)
            for change in changes:
                await product_repo.save_figures(conn, change.after)
            after = LedgerRow(rw.placed[0], data.note, data.sku)
            await announce(conn, {old_id, new_id})
            await audit.record(conn, actor, "edit", row, after)
            edited = Change(after, changes)
            await idempotency.keep(conn, key, edited)
            return edited

    async def delete(
        self, tx_id: int, *, actor: str, dry_run: bool = False, key: Key | None = None, within: str | None = None
    ) -> Change:
        """Delete a transaction. With an idempotency key (GraphQL's deleteTransaction), a repeat
        raises `Repeated` and the key keeps the change. `within`: the caller's location limit."""
        _, product_id = await self.row(tx_id)
        return await self._delete(tx_id, actor, product_id, dry_run, key, within)

    async def _delete(
        self, tx_id: int, actor: str, product_id: int, dry_run: bool, key: Key | None = None, within: str | None = None
    ) -> Change:
        async with (
            self.locks.hold(product_id),
            self.db.unit_of_work(commit=not dry_run) as conn,  # a dry run rolls back at exit
            self.db.spare_connection() as reader,
        ):
            await lock_in_database(conn, product_id)
            await idempotency.claim_or_repeat(conn, key)
            row = await _row_in(conn, tx_id, product_id)
            self._refuse_outside(within, "Deleting", row.entry)
            product = await product_for_change(conn, product_id)
            rw = await self.rewrite(conn, product, drop=row, closed=await self.closed_period(conn), reader=reader)
            await ledger_rows.delete_row(conn, tx_id)
            await product_repo.save_figures(conn, rw.product)
            await announce(conn, [product_id])
            await audit.record(conn, actor, "delete", row, None)
            deleted = Change(None, (ProductChange(product, rw.product),))
            await idempotency.keep(conn, key, deleted)
            return deleted

    async def void(
        self, tx_id: int, *, actor: str, own_scopes: Sequence[str] | None, key: Key | None = None,
        within: str | None = None,
    ) -> Voided:  # fmt: skip
        """A counter mistake undone: a delete, audited as "void". With `own_scopes` (a clerk's
        idempotency scopes) only the caller's own entry of the last 10 minutes, dated today, and
        unchanged since; without (a manager) any row a delete could take. `within`: the caller's
        location limit."""
        _, product_id = await self.row(tx_id)
        async with (
            self.locks.hold(product_id),
            self.db.unit_of_work() as conn,
            self.db.spare_connection() as reader,
        ):
            await lock_in_database(conn, product_id)
            await idempotency.claim_or_repeat(conn, key)
            row = await _row_in(conn, tx_id, product_id)
            self._refuse_outside(within, "Voiding", row.entry)
            if own_scopes is not None:
                facts = await counter.void_facts(conn, tx_id, own_scopes)
                assert facts is not None, "the row was just read under its lock"
                refuse_void(tx_id, row.entry.at, facts, now=self.clock(), zone=self.zone)
            product = await product_for_change(conn, product_id)
            rw = await self.rewrite(conn, product, drop=row, closed=await self.closed_period(conn), reader=reader)
            await ledger_rows.delete_row(conn, tx_id)
            await product_repo.save_figures(conn, rw.product)
            await announce(conn, [product_id])
            await audit.record(conn, actor, "void", row, None)
            voided = Voided(row, Change(None, (ProductChange(product, rw.product),)))
            await idempotency.keep(conn, key, voided)
            return voided

    def _refuse_outside(self, within: str | None, doing: str, *entries: Entry) -> None:
        """A user limited to `within` changes only rows that touch no other location (as they are,
        and as an edit would leave them): LocationRefused (403) naming the row and the location."""
        for entry in entries:
            what = f"{doing} {self.display.transaction(entry.type.value, entry.quantity, entry.at)}"
            refuse_outside(within, (entry.location, entry.to_location), what)

    async def check_locations(self, data: TransactionInput, conn: asyncpg.Connection | None = None) -> None:
        """400 naming the field when a location it names does not exist."""
        named = [(f, c) for f, c in (("location", data.location), ("to_location", data.to_location)) if c]
        if named:
            await self.locations.check_known(named, conn)

    async def closed_period(self, conn: asyncpg.Connection) -> ClosedPeriod:
        """The closed period as it stands in the caller's transaction."""
        return ClosedPeriod(await settings.books_closed_through(conn), self.zone)

    # --- lookups outside the locks --------------------------------------------------------

    async def product_id(self, sku: str) -> int:
        # A SKU never changes and products are never deleted, so the mapping can be kept; SKUs
        # not yet known (a restart, products made by another process) are read together.
        product_id = self._ids.get(sku)
        if product_id is None:
            product_id = await self._unknown_ids.get(sku)
            if product_id is None:
                raise NotFound(f"No product with SKU {sku!r}", {"field": "sku", "sku": sku})
            self._ids[sku] = product_id
        return product_id

    async def _read_ids(self, skus: list[str]) -> dict[str, int]:
        async with self.db.read_only() as conn:
            return await product_repo.ids_by_skus(conn, skus)

    async def row(self, tx_id: int) -> tuple[LedgerRow, int]:
        """A transaction and its product id, read outside any lock."""
        async with self.db.read_only() as conn:
            found = await ledger_rows.row_by_id(conn, tx_id)
        if found is None:
            raise NotFound(f"No transaction with id {tx_id}", {"id": tx_id})
        return found

    # --- a product's history ----------------------------------------------------------------

    async def timeline(
        self, product: ProductRecord, limit: int, offset: int, *, newest_first: bool = False
    ) -> list[LedgerRow]:
        """A page of the product's rows in timeline order (or newest first)."""
        async with self.db.read_only() as conn:
            return await ledger_rows.timeline_rows(conn, product.id, limit, offset, newest_first=newest_first)

    async def timeline_page(
        self, product: ProductRecord, limit: int, after: TimelineKey | None = None, *, newest_first: bool = False
    ) -> TimelinePage:
        """Up to `limit` rows coming after the row `after` names, in timeline order (or newest first): read
        by key, so any page costs what the first does. `more` says whether rows lie past the last one."""
        async with self.db.read_only() as conn:
            rows = await ledger_rows.timeline_page(conn, product.id, limit + 1, after, newest_first=newest_first)
        return TimelinePage(rows[:limit], len(rows) > limit)

    async def stock_points(self, product: ProductRecord, most: int = 400) -> list[tuple[datetime, int]]:
        """(time, stock after) along the timeline, for the stock chart: every row of a short timeline;
        of a longer one, the stock at `most` + 1 evenly spaced moments from its first row to its last
        (the last row before each, each row once). Its cost is that of the points, not of the ledger."""
        async with self.db.read_only() as conn:
            if product.tx_count <= most:
                return await ledger_rows.stock_points(conn, product.id, 1, product.tx_count)
            span = await ledger_rows.time_span(conn, product.id)
            if span is None:
                return []
            return await ledger_rows.stock_at(conn, product.id, even_moments(*span, most))

    async def monthly(self, product: ProductRecord, zone: tzinfo) -> list[dict[str, Any]]:
        """The product's figures per calendar month of `zone`, money as decimal strings, oldest first."""
        return (await self.latest_months(product, zone, None)).months

    async def latest_months(self, product: ProductRecord, zone: tzinfo, most: int | None = 12) -> Months:
        """The product's figures in the latest `most` calendar months of `zone` that hold transactions
        (every month when None), oldest first: each read from its own range of the timeline."""
        async with self.db.read_only() as conn:
            rows, earlier = await ledger_rows.monthly(conn, product.id, str(zone), most)
        shown = [{key: (str(value) if key in _MONTHLY_DECIMALS else value) for key, value in r.items()} for r in rows]
        return Months(shown, earlier)

    # --- the counter's reads ------------------------------------------------------------------

    async def recent_entries(self, scopes: Sequence[str], limit: int = 10) -> list[dict[str, Any]]:
        """What these idempotency scopes (a user's) recorded in the void window and is still there, newest first."""
        async with self.db.read_only() as conn:
            return await counter.recent_entries(conn, scopes, limit)

    async def voided(self, tx_id: int) -> dict[str, Any] | None:
        """A voided transaction as it was (from its audit entry), with its product's name."""
        async with self.db.read_only() as conn:
            return await counter.voided(conn, tx_id)


@immutable
class TimelinePage:
    """A page of a product's timeline, read by key."""

    rows: list[LedgerRow]
    more: bool  # rows lie past the last one, in the page's order


@immutable
class Months:
    """A product's monthly figures, oldest first, and whether earlier months hold transactions too."""

    months: list[dict[str, Any]]
    earlier: bool


def even_moments(first: datetime, last: datetime, intervals: int) -> list[datetime]:
    """`intervals` + 1 moments from `first` to `last` (both included), evenly spaced."""
    span = last - first
    return [first + span * i / intervals for i in range(intervals)] + [last]


_MONTHLY_DECIMALS = {"revenue", "cogs", "realized_pl", "write_off", "gain", "closing_average_cost"}


async def release_lapsed_holds(conn: asyncpg.Connection, *products: ProductRecord) -> None:
    """Under the locks, before stock moves: stored `reserved` must stop counting lapsed holds,
    or the database's `on_hand >= reserved` check would refuse a sale they no longer block."""
    lapsed = [p.id for p in products if p.lapsed_holds]
    if lapsed:
        await reservation_repo.expire_lapsed_holds(conn, lapsed)


async def product_for_change(conn: asyncpg.Connection, product_id: int) -> ProductRecord:
    """A product about to change, under its locks, with its lapsed holds released."""
    product = await product_repo.by_id(conn, product_id)
    if product is None:
        raise NotFound(f"No product with id {product_id}")
    await release_lapsed_holds(conn, product)
    return product


async def _row_in(conn: asyncpg.Connection, tx_id: int, product_id: int) -> LedgerRow:
    """Re-read a row under the lock; it may have been deleted or moved since we looked."""
    found = await ledger_rows.row_by_id(conn, tx_id)
    if found is None:
        raise NotFound(f"No transaction with id {tx_id}", {"id": tx_id})
    row, current_product = found
    if current_product != product_id:
        raise Conflict(f"Transaction {tx_id} was moved to another product meanwhile; try again", {"id": tx_id})
    return row


@immutable
class _NewRow:
    """A new row of a batch waiting for its insert (and its id)."""

    index: int  # its place among the batch's answers
    posted: Posted
    queued: Queued
    change: ProductChange


@immutable
class _Placing:
    """An entry of a batch that goes into its product's past, waiting to be placed."""

    index: int  # its place among the batch's answers
    entry: Entry
    queued: Queued


conflict_placeholder = Conflict("not yet inserted")


async def _insert(conn: asyncpg.Connection, pending: list[_NewRow], results: list[Change | Exception]) -> None:
    """Write queued new rows in one statement; their answers get the stored ids."""
    if not pending:
        return
    ids = await ledger_rows.insert_rows(
        conn, [n.queued.product_id for n in pending], [n.posted for n in pending], [n.queued.data.note for n in pending]
    )
    for new in pending:
        stored = Posted(new.posted.entry.stored_as(ids[new.posted.entry.seq]), new.posted.figures)
        data = new.queued.data
        results[new.index] = Change(LedgerRow(stored, data.note, data.sku), (new.change,))
    pending.clear()
