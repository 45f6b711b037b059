"""Group commit with a fake committer (our own port): batching and per-request answers."""

import asyncio
from datetime import UTC, datetime

import pytest

from app.domain.commands import TransactionInput
from app.domain.errors import Conflict
from app.domain.rules import TxType
from app.persistence.database import DatabaseUnavailable
from app.services.group_commit import Busy, GroupCommit, Queued, release_earlier_answers

pytestmark = pytest.mark.unit


def sale(product_id: int, quantity: int) -> Queued:
    return Queued(product_id, TransactionInput("SKU", TxType.SELL, quantity, datetime.now(UTC)))


class FakeCommitter:
    """Commits by remembering batches; a quantity of 13 is refused, 99 breaks the whole batch's
    statement (like text the database cannot encode), and `down` makes the database unreachable."""

    def __init__(self) -> None:
        self.batches: list[list[Queued]] = []
        self.gate = asyncio.Event()
        self.down = False
        self.held: dict[int, asyncio.Event] = {}  # product id → set when its lock comes free
        self.committed: list[tuple[int, int]] = []  # (product id, quantity), in commit order

    async def __call__(self, batch: list[Queued], wait: bool) -> list:
        await self.gate.wait()
        if wait:
            for q in batch:
                if q.product_id in self.held:
                    await self.held[q.product_id].wait()
        elif any(q.product_id in self.held and not self.held[q.product_id].is_set() for q in batch):
            busy = {q.product_id for q in batch if q.product_id in self.held and not self.held[q.product_id].is_set()}
            rest = [q for q in batch if q.product_id not in busy]
            done = iter(await self(rest, wait) if rest else [])
            return [Busy() if q.product_id in busy else next(done) for q in batch]
        self.batches.append(batch)
        if self.down:
            raise DatabaseUnavailable("no connection")
        if any(q.data.quantity == 99 for q in batch):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
        self.committed += [(q.product_id, q.data.quantity) for q in batch if q.data.quantity != 13]
        return [Conflict("refused") if q.data.quantity == 13 else f"ok {q.data.quantity}" for q in batch]


async def test_requests_queued_during_a_commit_share_the_next_one_and_get_their_own_answers():
    fake = FakeCommitter()
    group = GroupCommit(fake, max_batch=100)
    first = asyncio.create_task(group.submit(sale(1, 1)))
    await asyncio.sleep(0)
    later = [asyncio.create_task(group.submit(sale(p, q))) for p, q in [(2, 2), (1, 13), (3, 3)]]
    await asyncio.sleep(0)
    fake.gate.set()

    assert await first == "ok 1"
    answers = await asyncio.gather(*later, return_exceptions=True)
    assert answers[0] == "ok 2" and isinstance(answers[1], Conflict) and answers[2] == "ok 3"
    assert [len(b) for b in fake.batches] == [1, 3]


async def test_one_bad_member_fails_alone_and_the_rest_of_its_batch_commits():
    fake = FakeCommitter()
    group = GroupCommit(fake, max_batch=100)
    tasks = [asyncio.create_task(group.submit(sale(1, q))) for q in [1, 2, 3, 99, 5, 6, 7, 8]]
    await asyncio.sleep(0)
    fake.gate.set()
    answers = await asyncio.gather(*tasks, return_exceptions=True)
    assert answers[:3] == ["ok 1", "ok 2", "ok 3"] and answers[4:] == ["ok 5", "ok 6", "ok 7", "ok 8"]
    assert isinstance(answers[3], UnicodeEncodeError)
    assert len(fake.batches) <= 1 + 2 * 3  # halved, not retried one by one: at most 2·log2(8) more commits


async def test_when_the_database_is_unreachable_every_request_hears_so_at_once():
    fake = FakeCommitter()
    fake.gate.set()
    fake.down = True
    group = GroupCommit(fake, max_batch=100)
    answers = await asyncio.gather(group.submit(sale(1, 1)), group.submit(sale(2, 1)), return_exceptions=True)
    assert all(isinstance(a, DatabaseUnavailable) for a in answers)
    assert len(fake.batches) == 1  # no retries against a database that is not there


async def test_batches_never_exceed_the_maximum():
    fake = FakeCommitter()
    group = GroupCommit(fake, max_batch=2)
    tasks = [asyncio.create_task(group.submit(sale(1, q))) for q in range(1, 6)]
    await asyncio.sleep(0)
    fake.gate.set()
    assert await asyncio.gather(*tasks) == [f"ok {q}" for q in range(1, 6)]
    assert [len(b) for b in fake.batches] == [2, 2, 1]


async def test_sales_of_a_product_whose_lock_is_held_wait_apart_while_other_products_commit():
    fake = FakeCommitter()
    fake.gate.set()
    fake.held[1] = asyncio.Event()  # product 1 is being edited (a long refold holds its lock)
    group = GroupCommit(fake, max_batch=100)
    held_back = [asyncio.create_task(group.submit(sale(1, q))) for q in (1, 2)]
    others = [asyncio.create_task(group.submit(sale(p, 5))) for p in (2, 3)]
    assert await asyncio.gather(*others) == ["ok 5", "ok 5"]  # answered while product 1 is still held
    assert not any(t.done() for t in held_back)
    later = asyncio.create_task(group.submit(sale(1, 3)))
    assert await group.submit(sale(4, 5)) == "ok 5"
    fake.held[1].set()
    assert await asyncio.gather(*held_back, later) == ["ok 1", "ok 2", "ok 3"]
    assert [q for p, q in fake.committed if p == 1] == [1, 2, 3]  # in the order they came


async def test_a_products_sales_keep_their_order_through_its_line():
    fake = FakeCommitter()
    fake.gate.set()
    fake.held[1] = asyncio.Event()
    group = GroupCommit(fake, max_batch=2)
    tasks = {q: asyncio.create_task(group.submit(sale(1 + q % 2, q))) for q in range(1, 11)}  # even: 1, odd: 2
    await asyncio.gather(*(t for q, t in tasks.items() if q % 2))
    assert not any(t.done() for q, t in tasks.items() if not q % 2)
    fake.held[1].set()
    await asyncio.gather(*tasks.values())
    assert [q for p, q in fake.committed if p == 1] == [2, 4, 6, 8, 10]
    assert [q for p, q in fake.committed if p == 2] == [1, 3, 5, 7, 9]


class ElsewhereHeld(FakeCommitter):
    """Product 1's lock is held by another process for the first `refusals` waiting attempts: a
    waiting commit gives up after a moment (answers Busy) instead of holding its connection."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.gate.set()

    async def __call__(self, batch: list[Queued], wait: bool) -> list:
        if any(q.product_id == 1 for q in batch) and self.refusals:
            if wait:
                self.refusals -= 1
            return [Busy() for _ in batch] if wait else await self._split(batch)
        return await super().__call__(batch, wait)

    async def _split(self, batch: list[Queued]) -> list:
        rest = [q for q in batch if q.product_id != 1]
        done = iter(await super().__call__(rest, False) if rest else [])
        return [Busy() if q.product_id == 1 else next(done) for q in batch]


async def test_a_line_whose_product_another_process_holds_tries_again_and_keeps_its_order():
    fake = ElsewhereHeld(refusals=3)
    group = GroupCommit(fake, max_batch=100)
    mine = [asyncio.create_task(group.submit(sale(1, q))) for q in (1, 2, 3)]
    assert await group.submit(sale(2, 9)) == "ok 9"  # not held up by product 1
    assert await asyncio.gather(*mine) == ["ok 1", "ok 2", "ok 3"]
    assert fake.refusals == 0 and [q for p, q in fake.committed if p == 1] == [1, 2, 3]


class BusyOnce(FakeCommitter):
    """Product 1 is in another process's batch when the first batch tries it, free for the next."""

    def __init__(self) -> None:
        super().__init__()
        self.gate.set()
        self.refused = False
        self.lines = 0  # commits of a product's line (they wait for its lock)

    async def __call__(self, batch: list[Queued], wait: bool) -> list:
        self.lines += wait
        if not self.refused and any(q.product_id == 1 for q in batch):
            self.refused = True
            rest = [q for q in batch if q.product_id != 1]
            done = iter(await super().__call__(rest, wait) if rest else [])
            return [Busy() if q.product_id == 1 else next(done) for q in batch]
        return await super().__call__(batch, wait)


async def test_a_product_busy_for_a_moment_commits_in_the_next_batch_in_order_not_in_a_line():
    fake = BusyOnce()
    group = GroupCommit(fake, max_batch=100)
    first = [asyncio.create_task(group.submit(sale(p, q))) for p, q in [(1, 1), (2, 2), (1, 3)]]
    await asyncio.sleep(0)
    later = asyncio.create_task(group.submit(sale(1, 4)))  # queued behind the ones put back
    assert await asyncio.gather(*first, later) == ["ok 1", "ok 2", "ok 3", "ok 4"]
    assert [q for p, q in fake.committed if p == 1] == [1, 3, 4]
    assert fake.lines == 0 and [q.data.quantity for q in fake.batches[1][:2]] == [1, 3]  # put back at the front


class SteppedCommitter:
    """Each batch waits for its own gate; the second one says when it has read what it needs (or,
    with `reads=False`, never says)."""

    def __init__(self, reads: bool = True) -> None:
        self.gates = [asyncio.Event(), asyncio.Event()]
        self.read = asyncio.Event()  # the second batch has read (or would have)
        self.reads = reads
        self.first_answered_when_second_began: bool | None = None
        self.first: asyncio.Task | None = None

    async def __call__(self, batch: list[Queued], wait: bool) -> list:
        if self.first_answered_when_second_began is None and batch[0].data.quantity == 2:
            assert self.first is not None
            self.first_answered_when_second_began = self.first.done()
            if self.reads:
                release_earlier_answers()
            self.read.set()
            await self.gates[1].wait()
        else:
            await self.gates[0].wait()
        return [f"ok {q.data.quantity}" for q in batch]


@pytest.mark.parametrize("reads", [True, False], ids=["once it has read", "after a moment"])
async def test_a_batchs_answers_go_out_while_the_next_batch_writes(reads):
    """Committed, the first batch's answers wait for the second batch to have read what it needs, and
    go out before the second one's writes end: then, or at the latest HOLD_ANSWERS_AT_MOST later."""
    fake = SteppedCommitter(reads)
    group = GroupCommit(fake, max_batch=100)
    fake.first = first = asyncio.create_task(group.submit(sale(1, 1)))
    await asyncio.sleep(0)
    second = asyncio.create_task(group.submit(sale(1, 2)))
    await asyncio.sleep(0)
    fake.gates[0].set()
    await fake.read.wait()
    assert fake.first_answered_when_second_began is False  # held, though committed
    if reads:
        await asyncio.sleep(0)
        assert first.done()  # at once: no timer was waited for
    assert await asyncio.wait_for(first, 10) == "ok 1"  # the second batch still writes
    assert not second.done()
    fake.gates[1].set()
    assert await second == "ok 2"
