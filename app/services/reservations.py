"""Reservations: hold stock for an order, then confirm it as a sale or cancel it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from app.domain.errors import Conflict, NotFound
from app.domain.ledger import Entry
from app.domain.reservations import ReservationInput, Status, Verdict, effective, on_cancel, on_confirm
from app.domain.rules import TxType
from app.services import idempotency
from app.services import ledger_repo as repo
from app.services.database import read_only, unit_of_work
from app.services.events import announce
from app.services.idempotency import Key
from app.services.ledger import LedgerService, product_for_change
from app.services.locks import ProductLocks, lock_in_database
from app.services.recompute import rewrite
from app.services.records import LedgerRow, ReservationRecord
from app.services.views import confirmed_view, reservation_view

COLUMNS = "r.id, r.product, p.sku, r.order_ref, r.quantity, r.status, r.created_at, r.expires_at, r.ended_at, " \
          "r.unit_price, r.transaction_id"  # fmt: skip
FROM = "FROM reservation r JOIN product p ON p.id = r.product"


def _record(r: asyncpg.Record, now: datetime) -> ReservationRecord:
    status = effective(Status(r["status"]), r["expires_at"], now)
    ended = r["ended_at"] if r["ended_at"] or status is not Status.EXPIRED else r["expires_at"]
    return ReservationRecord(
        r["id"], r["product"], r["sku"], r["order_ref"], r["quantity"], status, r["created_at"],
        r["expires_at"], ended, r["unit_price"], r["transaction_id"],
    )  # fmt: skip


class ReservationService:
    def __init__(self, locks: ProductLocks, ledger: LedgerService, clock: Callable[[], datetime]) -> None:
        self.locks, self.ledger, self.clock = locks, ledger, clock

    async def reserve(self, data: ReservationInput, key: Key | None = None) -> tuple[ReservationRecord, bool]:
        """The reservation, and whether it was created now (False: the same request came before).
        With an idempotency key, a repeat raises `Repeated`."""
        product_id = await self.ledger.product_id(data.sku)
        async with self.locks.hold(product_id), unit_of_work() as conn:
            await lock_in_database(conn, product_id)
            await idempotency.claim_or_repeat(conn, key)
            now = self.clock()
            found = await conn.fetchrow(f"SELECT {COLUMNS} {FROM} WHERE r.product = $1 AND r.order_ref = $2",
                                        product_id, data.order_ref)  # fmt: skip
            if found is not None:
                existing = _repeat(_record(found, now), data)
                await idempotency.keep_one(conn, key, 200, reservation_view(existing))
                return existing, False
            product = await product_for_change(conn, product_id)
            available = product.position.stock - product.reserved
            if available < data.quantity:
                raise Conflict(
                    f"Cannot reserve {data.quantity} of {data.sku}: only {available} available",
                    {"sku": data.sku, "available": available, "requested": data.quantity},
                )
            row = await conn.fetchrow(
                """WITH r AS (INSERT INTO reservation (product, order_ref, quantity, created_at, expires_at)
                       VALUES ($1, $2, $3, $4, $5) RETURNING *),
                   p AS (UPDATE product SET reserved = reserved + $3 WHERE id = $1 RETURNING sku)
                   SELECT r.*, p.sku FROM r, p""",
                product_id, data.order_ref, data.quantity, now, now + timedelta(seconds=data.ttl_seconds),
            )  # fmt: skip
            await announce(conn, [product_id])
            created = _record(row, now)
            await idempotency.keep_one(conn, key, 201, reservation_view(created))
            return created, True

    async def confirm(
        self, reservation_id: int, unit_price: Decimal, key: Key | None = None
    ) -> tuple[ReservationRecord, LedgerRow | None]:
        """Record the SELL of what was held, at the confirm time, in the same transaction."""
        async with self._holding(reservation_id, key) as (conn, held, now):
            verdict = on_confirm(held.status)
            if verdict is Verdict.UNCHANGED:
                sale = await _sale_of(conn, held)
                await idempotency.keep_one(conn, key, 200, confirmed_view(held, sale))
                return held, sale
            if verdict is Verdict.CONFLICT:
                raise _refused(held, "confirmed")
            sale = await self._sell(conn, held, unit_price, now)
            row = await conn.fetchrow(
                f"""WITH r AS (UPDATE reservation SET status = 'confirmed', ended_at = $2, unit_price = $3,
                        transaction_id = $4 WHERE id = $1 RETURNING *)
                    SELECT {COLUMNS.replace("p.sku", "$5::text AS sku")} FROM r""",
                reservation_id, now, unit_price, sale.entry.id, held.sku,
            )  # fmt: skip
            await announce(conn, [held.product_id])
            confirmed = _record(row, now)
            await idempotency.keep_one(conn, key, 200, confirmed_view(confirmed, sale))
            return confirmed, sale

    async def _sell(
        self, conn: asyncpg.Connection, held: ReservationRecord, price: Decimal, now: datetime
    ) -> LedgerRow:
        product = await product_for_change(conn, held.product_id)
        # The hold turns into the sale: it stops counting as reserved as the stock leaves.
        product = replace(product, reserved=product.reserved - held.quantity)
        await conn.execute("UPDATE product SET reserved = reserved - $2 WHERE id = $1", product.id, held.quantity)
        seq = (await repo.next_seqs(conn, 1))[0]
        entry = Entry(seq, now, TxType.SELL, held.quantity, price)
        rw = await rewrite(conn, product, drop=None, places=[entry], closed=await self.ledger.closed_period(conn))
        (sale,) = rw.placed
        note = f"reservation {held.id}, order {held.order_ref}"
        ids = await repo.insert_rows(conn, [product.id], [sale], [note])
        await repo.save_figures(conn, rw.product)
        stored = sale._replace(entry=sale.entry._replace(id=ids[seq]))
        return LedgerRow(stored, note, held.sku)

    async def cancel(self, reservation_id: int, key: Key | None = None) -> ReservationRecord:
        async with self._holding(reservation_id, key) as (conn, held, now):
            verdict = on_cancel(held.status)
            if verdict is Verdict.UNCHANGED:
                await idempotency.keep_one(conn, key, 200, reservation_view(held))
                return held
            if verdict is Verdict.CONFLICT:
                raise _refused(held, "cancelled")
            await conn.execute(
                """WITH r AS (UPDATE reservation SET status = 'cancelled', ended_at = $2 WHERE id = $1
                       RETURNING product, quantity)
                   UPDATE product p SET reserved = p.reserved - r.quantity FROM r WHERE p.id = r.product""",
                reservation_id, now,
            )  # fmt: skip
            await announce(conn, [held.product_id])
            cancelled = replace(held, status=Status.CANCELLED, ended_at=now)
            await idempotency.keep_one(conn, key, 200, reservation_view(cancelled))
            return cancelled

    async def listing(self, sku: str | None, status: Status | None, limit: int = 500) -> list[ReservationRecord]:
        where: list[str] = ["TRUE"]
        args: list[object] = []
        if sku:
            args.append(sku)
            where.append(f"p.sku = ${len(args)}")
        if status is Status.ACTIVE:
            where.append("r.status = 'active' AND r.expires_at > now()")
        elif status is Status.EXPIRED:
            where.append("(r.status = 'expired' OR (r.status = 'active' AND r.expires_at <= now()))")
        elif status is not None:
            args.append(status.value)
            where.append(f"r.status = ${len(args)}")
        args.append(limit)
        async with read_only() as conn:
            rows = await conn.fetch(
                f"SELECT {COLUMNS} {FROM} WHERE {' AND '.join(where)} ORDER BY r.created_at DESC, r.id DESC "
                f"LIMIT ${len(args)}", *args)  # fmt: skip
        now = self.clock()
        return [_record(r, now) for r in rows]

    async def sweep(self) -> int:
        """Mark lapsed reservations expired, one product at a time under its locks."""
        async with read_only() as conn:
            product_ids = [
                r["product"]
                for r in await conn.fetch(
                    "SELECT DISTINCT product FROM reservation WHERE status = 'active' AND expires_at <= now() LIMIT 500"
                )
            ]
        for product_id in product_ids:
            async with self.locks.hold(product_id), unit_of_work() as conn:
                await lock_in_database(conn, product_id)
                await repo.expire_lapsed_holds(conn, [product_id])
                await announce(conn, [product_id])
        return len(product_ids)

    async def _product_of(self, reservation_id: int) -> int:
        async with read_only() as conn:
            product_id: int | None = await conn.fetchval("SELECT product FROM reservation WHERE id = $1",
                                                         reservation_id)  # fmt: skip
        if product_id is None:
            raise NotFound(f"No reservation with id {reservation_id}", {"id": reservation_id})
        return product_id

    @asynccontextmanager
    async def _holding(
        self, reservation_id: int, key: Key | None
    ) -> AsyncIterator[tuple[asyncpg.Connection, ReservationRecord, datetime]]:
        """A reservation read again under its product's locks, in a transaction, with the time;
        the idempotency key claimed in that transaction."""
        product_id = await self._product_of(reservation_id)
        async with self.locks.hold(product_id), unit_of_work() as conn:
            await lock_in_database(conn, product_id)
            await idempotency.claim_or_repeat(conn, key)
            now = self.clock()
            row = await conn.fetchrow(f"SELECT {COLUMNS} {FROM} WHERE r.id = $1", reservation_id)
            yield conn, _record(row, now), now


def _refused(held: ReservationRecord, wanted: str) -> Conflict:
    return Conflict(f"Reservation {held.id} is {held.status} and cannot be {wanted}",
                    {"id": held.id, "status": held.status.value})  # fmt: skip


def _repeat(existing: ReservationRecord, data: ReservationInput) -> ReservationRecord:
    if existing.quantity != data.quantity:
        raise Conflict(
            f"Order {data.order_ref!r} already holds a reservation of {existing.quantity} {data.sku}, "
            f"not {data.quantity}",
            {"id": existing.id, "quantity": existing.quantity, "requested": data.quantity},
        )
    return existing


async def _sale_of(conn: asyncpg.Connection, held: ReservationRecord) -> LedgerRow | None:
    if held.transaction_id is None:
        return None
    found = await repo.row_by_id(conn, held.transaction_id)
    return found[0] if found else None
