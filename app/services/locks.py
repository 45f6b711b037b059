"""Per-product locks: an asyncio.Lock in this process, an advisory lock across processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from weakref import WeakValueDictionary

import asyncpg

from app.services import ledger_repo as repo
from app.services.database import holding_a_connection
from app.services.group_commit import Busy


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
    await repo.lock_products(conn, sorted(set(product_ids)))


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
        return set(await repo.try_lock_products(conn, product_ids))
    if block:
        await lock_in_database(conn, *product_ids)
    elif not await repo.lock_products_within(conn, product_ids, LINE_LOCK_WAIT_MS):
        raise Busy()
    return set(product_ids)
