"""Per-product locks: an asyncio.Lock in this process, an advisory lock across processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, TypeVar
from weakref import WeakValueDictionary

import asyncpg

from app.persistence import locks as advisory
from app.persistence.database import Database, holding_a_connection
from app.services.group_commit import Busy, Queued


class ProductLocks:
    """One asyncio.Lock per product, created on demand and dropped when nobody holds it."""

    def __init__(self) -> None:
        self._locks: WeakValueDictionary[int, asyncio.Lock] = WeakValueDictionary()

    def _lock(self, product_id: int) -> asyncio.Lock:
        lock = self._locks.get(product_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[product_id] = lock
        return lock

    def is_held(self, product_id: int) -> bool:
        lock = self._locks.get(product_id)
        return lock is not None and lock.locked()

    @asynccontextmanager
    async def hold(self, *product_ids: int) -> AsyncIterator[None]:
        """Hold the locks of several products, always taken in ascending id order. Never while
        holding a pooled connection: the holder of a lock may be waiting for that connection."""
        if holding_a_connection():
            raise RuntimeError("product locks are taken before the connection, never after (see database._holding)")
        async with AsyncExitStack() as stack:
            for product_id in sorted(set(product_ids)):
                await stack.enter_async_context(self._lock(product_id))
            yield


async def lock_in_database(conn: asyncpg.Connection, *product_ids: int) -> None:
    """Transaction-level advisory locks, in the same ascending order as the process locks."""
    await advisory.lock_products(conn, sorted(set(product_ids)))


Q = TypeVar("Q", bound=Queued[Any])
R = TypeVar("R")
HeldWork = Callable[[asyncpg.Connection, list[Q], list[int]], Awaitable[list[R | Exception]]]


async def commit_where_free(
    db: Database, locks: ProductLocks, batch: list[Q], work: HeldWork[Q, R], *, wait: bool, block: bool = False,
    commit: bool = True,
) -> list[R | Exception]:  # fmt: skip
    """One transaction for a group-commit batch, sales or reservations: takes the in-process and
    advisory locks of its products that are free (all of them with `wait`, see `lock_for_batch`),
    runs `work(conn, requests of those products, their ids)` under them, and answers the others
    `Busy` so that group commit puts them in their product's line. With `commit=False` (a dry run)
    the transaction is rolled back at exit."""
    wanted = sorted({q.product_id for q in batch})
    free = wanted if wait else [p for p in wanted if not locks.is_held(p)]
    if not free:
        return [Busy() for _ in batch]
    try:
        async with locks.hold(*free), db.unit_of_work(commit=commit) as conn:
            got = await lock_for_batch(conn, free, wait=wait, block=block)
            live = [q for q in batch if q.product_id in got]
            done = iter(await work(conn, live, sorted(got)) if live else [])
            return [next(done) if q.product_id in got else Busy() for q in batch]
    except Busy:
        return [Busy() for _ in batch]


# A product's line waits this long for another process's lock while holding a connection.
LINE_LOCK_WAIT_MS = 200


async def lock_for_batch(
    conn: asyncpg.Connection, product_ids: list[int], *, wait: bool, block: bool = False
) -> set[int]:
    """The advisory locks of a group-commit batch: without `wait`, those nobody holds (the others'
    requests are answered Busy); with it, all of them, waiting at most LINE_LOCK_WAIT_MS for another
    process (then Busy is raised: roll back and let the product's line try again), or as long as it
    takes with `block` (a dry run)."""
    if not wait:
        return set(await advisory.try_lock_products(conn, product_ids))
    if block:
        await lock_in_database(conn, *product_ids)
    elif not await advisory.lock_products_within(conn, product_ids, LINE_LOCK_WAIT_MS):
        raise Busy()
    return set(product_ids)
