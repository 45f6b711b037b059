"""Group commit of new transactions on one product.

Requests queued behind a product's lock are committed together in one database
transaction. Each request still gets its own answer (its row, or its own 409),
and none is answered before the commit that holds it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from app.domain.inputs import TransactionInput
from app.services.changes import Change

BatchCommitter = Callable[[int, list[TransactionInput]], Awaitable[list[Change | Exception]]]


@dataclass
class _Waiting:
    data: TransactionInput
    answer: asyncio.Future[Change] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class GroupCommit:
    def __init__(self, commit_batch: BatchCommitter, max_batch: int) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queues: dict[int, list[_Waiting]] = {}
        self._draining: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, product_id: int, data: TransactionInput) -> Change:
        waiting = _Waiting(data)
        self._queues.setdefault(product_id, []).append(waiting)
        if product_id not in self._draining:
            self._draining.add(product_id)
            task = asyncio.create_task(self._drain(product_id))
            self._tasks.add(task)  # a running task must stay referenced
            task.add_done_callback(self._tasks.discard)
        # shield: a client that hangs up must not cancel a commit others share.
        return await asyncio.shield(waiting.answer)

    async def _drain(self, product_id: int) -> None:
        queue = self._queues[product_id]
        try:
            while queue:
                batch = queue[: self._max_batch]
                del queue[: self._max_batch]
                await self._commit(product_id, batch)
        finally:
            self._draining.discard(product_id)
            if not queue:
                self._queues.pop(product_id, None)

    async def _commit(self, product_id: int, batch: list[_Waiting]) -> None:
        try:
            results = await self._commit_batch(product_id, [w.data for w in batch])
        except Exception as exc:  # the whole batch rolled back: every request hears why
            results = [exc] * len(batch)
        for waiting, result in zip(batch, results, strict=True):
            if waiting.answer.done():
                continue
            if isinstance(result, Exception):
                waiting.answer.set_exception(result)
            else:
                waiting.answer.set_result(result)
