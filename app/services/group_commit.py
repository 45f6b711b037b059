"""Group commit of new transactions.

Requests that arrive while a commit is under way queue up and are committed
together in the next database transaction, whatever their products (each
product's locks are taken in ascending id order). Each request still gets its
own answer (its row, or its own 409), and none is answered before its commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.domain.inputs import TransactionInput
from app.services.changes import Change
from app.services.database import CONNECTION_LOST, DatabaseUnavailable
from app.services.idempotency import Key

log = logging.getLogger("stockroom.group_commit")


@dataclass(frozen=True, slots=True)
class Queued:
    product_id: int
    data: TransactionInput
    key: Key | None = None  # idempotency key, claimed in the same transaction


UNREACHABLE = (DatabaseUnavailable, *CONNECTION_LOST)


BatchCommitter = Callable[[list[Queued]], Awaitable[list[Change | Exception]]]


@dataclass
class _Waiting:
    queued: Queued
    answer: asyncio.Future[Change] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, commit_batch: BatchCommitter, max_batch: int) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queue: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, queued: Queued) -> Change:
        waiting = _Waiting(queued)
        self._queue.append(waiting)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        # shield: a client that hangs up must not cancel a commit others share.
        return await asyncio.shield(waiting.answer)

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                await self._commit(batch)
        finally:
            self._drainer = None

    async def _commit(self, batch: list[_Waiting]) -> None:
        results = await self._settle([w.queued for w in batch])
        for waiting, result in zip(batch, results, strict=True):
            if waiting.answer.done():
                continue
            if isinstance(result, Exception):
                waiting.answer.set_exception(result)
            else:
                waiting.answer.set_result(result)

    async def _settle(self, batch: list[Queued]) -> list[Change | Exception]:
        """Commit a batch; if it fails as a whole (one member's bad data broke the statement),
        commit its halves apart, and so on, so that only the guilty member fails. When the
        database itself is unreachable, every member hears so at once: retrying cannot help."""
        try:
            return await self._commit_batch(batch)
        except UNREACHABLE as exc:
            return [exc] * len(batch)
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("a batch of %d failed (%r); committing its halves apart", len(batch), exc)
            half = len(batch) // 2
            return [*await self._settle(batch[:half]), *await self._settle(batch[half:])]
