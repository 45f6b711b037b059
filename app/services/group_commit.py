"""Group commit of new transactions and new reservations.

Requests that arrive while a commit is under way queue up and are committed
together in the next database transaction, whatever their products (each
product's locks are taken in ascending id order). Each request still gets its
own answer (its row, or its own 409), and none is answered before its commit.

A batch never waits for a product that someone else holds (a long backdated edit,
another process's batch): the committer answers that product's requests `Busy`. They
go back to the front of the queue for the next batch once; busy again, they wait in
the product's own line, committed by a task of their own once its lock comes free,
while the shared queue goes on with every other product. Requests for a product keep
their order: while a product has a line, its new requests join it.

A committed batch's answers wait for the next batch to have read what it needs (its products,
their locks): only its fold and its writes are left then, and the answers go out while PostgreSQL
writes it. Answered at once, they went out together with the clients' next requests, so that by the
time the next batch wrote, every request was read and the event loop stood idle through its INSERT
and COMMIT, ~10 % of a hot product's time (issue 12). Held at most HOLD_ANSWERS_AT_MOST, and never
before their own commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from app.domain.immutable import immutable
from app.persistence.database import UNAVAILABLE
from app.services.idempotency import Key

log = logging.getLogger("stockroom.group_commit")


C = TypeVar("C")  # what is committed: a new transaction, a reservation
R = TypeVar("R")  # what each request is answered with


@immutable
class Queued(Generic[C]):
    product_id: int
    data: C
    key: Key | None = None  # idempotency key, claimed in the same transaction


HOLD_ANSWERS_AT_MOST = 0.01  # seconds a committed batch's answers wait for the next batch's reads

LINE_PAUSE_SECONDS = 0.01  # a line whose product another process holds tries again after this,
LINE_PAUSE_MAX_SECONDS = 0.2  # doubling up to this


class Busy(Exception):
    """The product's lock is held elsewhere: commit this request later, in the product's line."""


# (batch, wait): with wait=False the committer answers `Busy` for products whose lock is taken;
# with wait=True it waits for them, but only a moment for another process's (then `Busy` again).
BatchCommitter = Callable[[list[Queued[C]], bool], Awaitable[list[R | Exception]]]


@dataclass
class _Waiting(Generic[C, R]):
    queued: Queued[C]
    answer: asyncio.Future[R] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    found_busy: bool = False  # once: it was put back for the next batch


# In the drainer's task, while it commits a batch: how to send the answers of the batch before it.
_earlier_answers: ContextVar[Callable[[], None] | None] = ContextVar("earlier_answers", default=None)


def release_earlier_answers() -> None:
    """A batch committer calls this once it has read what it needs, before its fold and writes: the
    answers of the batch committed before it go out now (see the module's docstring). Anywhere else
    (a product's line, a dry run) it does nothing."""
    release = _earlier_answers.get()
    if release is not None:
        release()


class _HeldAnswers(Generic[R]):
    """A committed batch's answers, until the next batch has read what it needs or a moment has passed."""

    def __init__(self) -> None:
        self._answers: list[tuple[_Waiting[Any, R], R | Exception]] = []
        self._deadline: asyncio.TimerHandle | None = None

    def hold(self, answers: list[tuple[_Waiting[Any, R], R | Exception]]) -> None:
        self.release()
        self._answers = answers
        self._deadline = asyncio.get_running_loop().call_later(HOLD_ANSWERS_AT_MOST, self.release)

    def release(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        answers, self._answers = self._answers, []
        for waiting, result in answers:
            _answer(waiting, result)


def _answer(waiting: _Waiting[Any, R], result: R | Exception) -> None:
    if waiting.answer.done():  # its client hung up
        return
    if isinstance(result, Exception):
        waiting.answer.set_exception(result)
    else:
        waiting.answer.set_result(result)


class GroupCommit(Generic[C, R]):
    def __init__(self, commit_batch: BatchCommitter[C, R], max_batch: int) -> None:
        self._commit_batch = commit_batch
        self._max_batch = max_batch
        self._queue: deque[_Waiting[C, R]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self._lines: dict[int, list[_Waiting[C, R]]] = {}  # product id → requests waiting for its lock
        self._line_tasks: set[asyncio.Task[None]] = set()

    async def submit(self, queued: Queued[C]) -> R:
        waiting: _Waiting[C, R] = _Waiting(queued)
        self._queue.append(waiting)
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        # The commit runs in the drainer's task, not this one: a client that hangs up cancels only
        # its own answer (a done future the committer then skips), never a commit others share.
        return await waiting.answer

    async def _drain(self) -> None:
        held: _HeldAnswers[R] = _HeldAnswers()
        token = _earlier_answers.set(held.release)
        try:
            while self._queue:
                batch: list[_Waiting[C, R]] = []
                while self._queue and len(batch) < self._max_batch:
                    waiting = self._queue.popleft()
                    line = self._lines.get(waiting.queued.product_id)
                    if line is None:
                        batch.append(waiting)
                    else:
                        line.append(waiting)  # behind that product's earlier requests
                if batch:
                    await self._commit(batch, wait=False, held=held)
        finally:
            held.release()
            _earlier_answers.reset(token)
            self._drainer = None

    def _join_line(self, waiting: _Waiting[C, R]) -> None:
        product_id = waiting.queued.product_id
        line = self._lines.get(product_id)
        if line is None:
            line = self._lines[product_id] = []
            task = asyncio.create_task(self._drain_line(product_id, line))
            self._line_tasks.add(task)
            task.add_done_callback(self._line_tasks.discard)
        line.append(waiting)

    async def _drain_line(self, product_id: int, line: list[_Waiting[C, R]]) -> None:
        """Commit one product's waiting requests, in their order, once its lock comes free. The
        committer waits a moment for the lock (holding a pooled connection); if another process
        keeps it longer, the requests go back to the front of the line and the line sleeps,
        holding nothing, before it tries again."""
        pause = LINE_PAUSE_SECONDS
        _earlier_answers.set(None)  # this task's own copy of the drainer's context: a line answers at once
        try:
            while line:
                batch = line[: self._max_batch]
                del line[: self._max_batch]
                still_busy = await self._commit(batch, wait=True)
                if still_busy:
                    line[:0] = still_busy
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, LINE_PAUSE_MAX_SECONDS)
                else:
                    pause = LINE_PAUSE_SECONDS
        finally:
            del self._lines[product_id]

    async def _commit(
        self, batch: list[_Waiting[C, R]], *, wait: bool, held: _HeldAnswers[R] | None = None
    ) -> list[_Waiting[C, R]]:
        """Answer each request of the batch (with `held`: hold its answers for the next batch); returns
        those whose product was busy (wait=True), or puts them in their product's line (wait=False)."""
        results = await self._settle([w.queued for w in batch], wait)
        answers: list[tuple[_Waiting[Any, R], R | Exception]] = []
        still_busy: list[_Waiting[C, R]] = []
        again: list[_Waiting[C, R]] = []
        for waiting, result in zip(batch, results, strict=True):
            if isinstance(result, Busy):
                if wait:
                    still_busy.append(waiting)
                elif waiting.found_busy:
                    self._join_line(waiting)
                else:
                    waiting.found_busy = True
                    again.append(waiting)
                continue
            answers.append((waiting, result))
        if held is not None:
            held.hold(answers)
        else:
            for waiting, result in answers:
                _answer(waiting, result)
        # A product busy for the first time is most often in another process's batch, committed a few
        # milliseconds later: its requests go back to the front of the queue, ahead of any later
        # request for it, and try again in the next batch. Busy again (a long edit holds it), they
        # wait in its line. A line commits apart, one transaction per product: two processes selling
        # 10,000 products found ~25 of each batch's products in the other's batch, and their lines
        # cost more than the batches (issue 12).
        self._queue.extendleft(reversed(again))
        return still_busy

    async def _settle(self, batch: list[Queued[C]], wait: bool) -> list[R | Exception]:
        """Commit a batch; if it fails as a whole (one member's bad data broke the statement),
        commit its halves apart, and so on, so that only the guilty member fails. When the
        database itself is unreachable, every member hears so at once: retrying cannot help."""
        try:
            return await self._commit_batch(batch, wait)
        except UNAVAILABLE as exc:
            return [exc for _ in batch]
        except Exception as exc:
            if len(batch) == 1:
                return [exc]
            log.warning("a batch of %d failed (%r); committing its halves apart", len(batch), exc)
            half = len(batch) // 2
            return [*await self._settle(batch[:half], wait), *await self._settle(batch[half:], wait)]
