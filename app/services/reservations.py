"""Reservations: hold stock for an order, then confirm it as a sale or cancel it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

import asyncpg

from app.domain.access import hold_at_own_location, refuse_outside
from app.domain.commands import CancelHold, ConfirmHold, HoldEnding, ReservationInput
from app.domain.errors import Conflict, NotFound
from app.domain.reservations import Status
from app.persistence import products as product_repo
from app.persistence import reservations as repo
from app.persistence.records import ProductRecord, ReservationRecord
from app.persistence.reservations import HoldFacts
from app.services import idempotency
from app.services.coalesced import Coalesced
from app.services.events import announce
from app.services.group_commit import GroupCommit, Queued, release_earlier_answers
from app.services.hold_endings import Ended, confirmed_before, end_holds, stocks_of
from app.services.idempotency import Key, Repeated, first_claim
from app.services.ledger import LedgerService
from app.services.locks import ProductLocks, commit_where_free, lock_in_database
from app.services.outcomes import Confirmed, Held


class ReservationService:
    def __init__(
        self, locks: ProductLocks, ledger: LedgerService, clock: Callable[[], datetime], *, max_batch: int = 500
    ) -> None:
        self.locks, self.ledger, self.clock = locks, ledger, clock
        self._group: GroupCommit[ReservationInput, Held] = GroupCommit(self._commit_reservations, max_batch)
        self._endings: GroupCommit[HoldEnding, Ended] = GroupCommit(self._commit_endings, max_batch)
        self._unknown_holds: Coalesced[int, HoldFacts] = Coalesced(self._read_facts)

    async def reserve(self, data: ReservationInput, key: Key | None = None, *, within: str | None = None) -> Held:
        """The reservation, and whether it was created now (not: the same order holds it already).
        With an idempotency key, a repeat raises `Repeated`. Reservations arriving together are
        committed together (group commit), like sales: checkout is the order system's hot path.
        A hold naming a location holds stock there (and against the product's total).
        `within`: the location the caller is limited to (their hold is there; naming another is a 403)."""
        data = hold_at_own_location(data, within)
        product_id = await self.ledger.product_id(data.sku)
        if data.location is not None:
            await self.ledger.locations.check_known([("location", data.location)])
        return await self._group.submit(Queued(product_id, data, key))

    async def _commit_reservations(self, batch: list[Queued[ReservationInput]], wait: bool) -> list[Held | Exception]:
        """Commit new reservations, on any products, in one database transaction; products whose
        lock is held elsewhere are answered `Busy` unless `wait` (see group_commit)."""
        return await commit_where_free(self.ledger.db, self.locks, batch, self._reserve_held, wait=wait)

    async def _reserve_held(
        self, conn: asyncpg.Connection, batch: list[Queued[ReservationInput]], product_ids: list[int]
    ) -> list[Held | Exception]:
        """Under the locks of every product of the batch: each request, in order, is a repeat of a
        reservation that exists (even one made earlier in this batch), a conflict, or a new hold."""
        products = await product_repo.by_ids(conn, product_ids)
        lapsed = [p for p in products.values() if p.lapsed_holds]
        if lapsed:
            await repo.expire_lapsed_holds(conn, [p.id for p in lapsed])
            products = await product_repo.by_ids(conn, product_ids)
        now = self.clock()
        existing = await repo.for_orders(conn, [q.product_id for q in batch], [q.data.order_ref for q in batch], now)
        owned = await idempotency.claim(conn, [q.key for q in batch if q.key])
        release_earlier_answers()  # read: the checks and the writes are left
        available = {p.id: p.position.stock - p.reserved for p in products.values()}
        free_at: dict[tuple[int, str], int] = {}  # (product, location) → on hand there less what is held there
        results: list[Held | Exception] = []
        new: dict[int, Queued[ReservationInput]] = {}  # index in results → request to insert
        made_here: dict[tuple[int, str], int] = {}  # (product, order) → index of its new hold
        twins: dict[int, int] = {}  # index of a repeat of a hold made in this batch → that hold's index
        for queued in batch:
            data, pair = queued.data, (queued.product_id, queued.data.order_ref)
            if queued.key and not first_claim(queued.key, owned):
                results.append(Repeated(queued.key))
            elif pair in made_here:
                first = new[made_here[pair]].data
                if (first.quantity, first.location) != (data.quantity, data.location):
                    results.append(_other_hold(data, first.quantity, first.location, None))
                else:
                    twins[len(results)] = made_here[pair]
                    results.append(Conflict("not yet inserted"))
            elif pair in existing:
                try:
                    results.append(Held(_repeat(existing[pair], data), created=False))
                except Conflict as conflict:
                    results.append(conflict)
            elif (can := _can_hold(available, free_at, products[queued.product_id], data)) < data.quantity:
                results.append(_not_available(data, can))
            else:
                available[queued.product_id] -= data.quantity
                if data.location is not None:
                    free_at[(queued.product_id, data.location)] -= data.quantity
                made_here[pair] = len(results)
                new[len(results)] = queued
                results.append(Conflict("not yet inserted"))
        if new:
            await self._insert_holds(conn, new, results, now)
            await announce(conn, {q.product_id for q in new.values()})
        for twin, first_index in twins.items():
            made = results[first_index]
            assert isinstance(made, Held)
            results[twin] = Held(made.reservation, created=False)
        await idempotency.keep_batch(conn, zip([q.key for q in batch], results, strict=True))
        return results

    async def _insert_holds(
        self,
        conn: asyncpg.Connection,
        new: dict[int, Queued[ReservationInput]],
        results: list[Held | Exception],
        now: datetime,
    ) -> None:
        """One INSERT of every new hold and one UPDATE of every product's `reserved` and `held`."""
        requests = list(new.values())
        made = await repo.insert_holds(
            conn, [q.product_id for q in requests], [q.data.order_ref for q in requests],
            [q.data.quantity for q in requests], [q.data.ttl_seconds for q in requests],
            [q.data.location for q in requests], now,
        )  # fmt: skip
        for index, queued in new.items():
            results[index] = Held(made[(queued.product_id, queued.data.order_ref)], created=True)

    async def confirm(
        self, reservation_id: int, unit_price: Decimal, key: Key | None = None, *, within: str | None = None
    ) -> Confirmed:
        """Record the SELL of what was held, at the confirm time, in the same transaction: from the
        hold's location, or for a hold naming none one SELL per location its units are taken from
        (`fulfilment`). Confirms and cancels arriving together are committed together (group commit),
        like sales. `within`: the location the caller is limited to: they confirm only holds there (a
        hold naming none may sell from any location, so it is refused to them too: 403)."""
        held = await self._known(reservation_id, within, "Confirming")
        confirmed = await self._endings.submit(Queued(held.product_id, ConfirmHold(reservation_id, unit_price), key))
        assert isinstance(confirmed, Confirmed)
        return confirmed

    async def cancel(
        self, reservation_id: int, key: Key | None = None, *, within: str | None = None
    ) -> ReservationRecord:
        """Release a hold. `within`: the caller's location limit: as for a confirm, they cancel only
        holds at their location (another store's order, or one naming none, is a 403)."""
        held = await self._known(reservation_id, within, "Cancelling")
        cancelled = await self._endings.submit(Queued(held.product_id, CancelHold(reservation_id), key))
        assert isinstance(cancelled, ReservationRecord)
        return cancelled

    async def _known(self, reservation_id: int, within: str | None, doing: str) -> HoldFacts:
        """What never changes about the reservation, read outside any lock: the locks to take, and
        the caller's right to it (403 when they are limited to another location), are settled before
        the commit, so that a refusal never claims the idempotency key."""
        held = await self._unknown_holds.get(reservation_id)
        if held is None:
            raise NotFound(f"No reservation with id {reservation_id}", {"id": reservation_id})
        refuse_outside(within, (held.location or _ANY_LOCATION,), f"{doing} order {held.order_ref}")
        return held

    async def _read_facts(self, reservation_ids: list[int]) -> dict[int, HoldFacts]:
        async with self.ledger.db.read_only() as conn:
            return await repo.facts_of(conn, reservation_ids)

    async def _commit_endings(self, batch: list[Queued[HoldEnding]], wait: bool) -> list[Ended | Exception]:
        """Commit confirms and cancels, on any products, in one database transaction (see hold_endings)."""
        # mypy cannot solve a type variable R from `list[R | Exception]` when R is itself a union
        return await commit_where_free(self.ledger.db, self.locks, batch, self._end_held, wait=wait)  # type: ignore[misc]

    async def _end_held(
        self, conn: asyncpg.Connection, batch: list[Queued[HoldEnding]], product_ids: list[int]
    ) -> list[Ended | Exception]:
        return await end_holds(conn, batch, product_ids, self.ledger, self.clock())

    async def get(self, reservation_id: int) -> ReservationRecord:
        """A reservation as it stands (404 when there is none)."""
        async with self.ledger.db.read_only() as conn:
            found = await repo.by_ids(conn, [reservation_id], self.clock())
        if reservation_id not in found:
            raise NotFound(f"No reservation with id {reservation_id}", {"id": reservation_id})
        return found[reservation_id]

    async def for_order(self, sku: str, order_ref: str) -> ReservationRecord | None:
        """The reservation an order holds (or held) on a product: the GraphQL API names a
        reservation by product and order, as seed 001's clients do, not by its id."""
        product_id = await self.ledger.product_id(sku)
        async with self.ledger.db.read_only() as conn:
            found = await repo.for_orders(conn, [product_id], [order_ref], self.clock())
        return found.get((product_id, order_ref))

    async def listing(
        self,
        sku: str | None,
        status: Status | None,
        limit: int = 500,
        *,
        location: str | None = None,
        before: int | None = None,
        ended: bool = False,
    ) -> list[ReservationRecord]:
        """Newest first; with `location` (400 naming it when unknown) the holds naming that location;
        with `before` (a reservation's id) the ones listed after it; `ended`: no active ones."""
        if location is not None:
            await self.ledger.locations.check_known([("location", location)])
        async with self.ledger.db.read_only() as conn:
            return await repo.listing(conn, sku, status, limit, self.clock(), location, before, ended)

    async def count_active(self, sku: str | None) -> int:
        async with self.ledger.db.read_only() as conn:
            return await repo.count_active(conn, sku)

    async def sales_of(self, holds: list[ReservationRecord]) -> dict[int, Confirmed]:
        """For each confirmed hold among `holds` (by id), its confirm's sales as they stand: one per
        location a hold naming none sold from (the reservations page lists each with its location)."""
        async with self.ledger.db.read_only() as conn:
            return {h.id: await confirmed_before(conn, h) for h in holds if h.status is Status.CONFIRMED}

    async def sweep(self) -> int:
        """Mark lapsed reservations expired, one product at a time under its locks."""
        async with self.ledger.db.read_only() as conn:
            product_ids = await repo.products_with_lapsed_holds(conn, 500)
        for product_id in product_ids:
            async with self.locks.hold(product_id), self.ledger.db.unit_of_work() as conn:
                await lock_in_database(conn, product_id)
                await repo.expire_lapsed_holds(conn, [product_id])
                await announce(conn, [product_id])
        return len(product_ids)


_ANY_LOCATION = "any location (it holds against the product's total)"


def _repeat(existing: ReservationRecord, data: ReservationInput) -> ReservationRecord:
    if (existing.quantity, existing.location) != (data.quantity, data.location):
        raise _other_hold(data, existing.quantity, existing.location, existing.id)
    return existing


def _other_hold(data: ReservationInput, held: int, location: str | None, held_id: int | None) -> Conflict:
    """The order holds this product already, of another quantity or at another location."""
    if held != data.quantity:
        return Conflict(
            f"Order {data.order_ref!r} already holds a reservation of {held} {data.sku}, not {data.quantity}",
            {"id": held_id, "quantity": held, "requested": data.quantity},
        )
    return Conflict(
        f"Order {data.order_ref!r} already holds {held} {data.sku} {_where(location)}, not {_where(data.location)}",
        {"id": held_id, "quantity": held, "location": location, "requested_location": data.location},
    )


def _where(code: str | None) -> str:
    return f"at {code}" if code else "without a location"


def _can_hold(
    available: dict[int, int], free_at: dict[tuple[int, str], int], product: ProductRecord, data: ReservationInput
) -> int:
    """What a new hold may take: the product's available units and, when it names a location, no
    more than is free there (on hand less what holds naming it keep, made earlier in the batch too)."""
    if data.location is None:
        return available[product.id]
    pair = (product.id, data.location)
    if pair not in free_at:
        free_at[pair] = stocks_of(product).get(data.location, 0) - product.held.get(data.location, 0)
    return min(available[product.id], free_at[pair])


def _not_available(data: ReservationInput, available: int) -> Conflict:
    if data.location is not None:
        return Conflict(
            f"Cannot reserve {data.quantity} of {data.sku} at {data.location}: only {available} available there",
            {"sku": data.sku, "location": data.location, "available": available, "requested": data.quantity},
        )
    return Conflict(
        f"Cannot reserve {data.quantity} of {data.sku}: only {available} available",
        {"sku": data.sku, "available": available, "requested": data.quantity},
    )
