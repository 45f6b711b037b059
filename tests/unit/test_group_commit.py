"""Group commit with a fake committer (our own port): batching and per-request answers."""

import asyncio
from datetime import UTC, datetime

import pytest

from app.domain.errors import Conflict
from app.domain.inputs import TransactionInput
from app.domain.rules import TxType
from app.services.database import DatabaseUnavailable
from app.services.group_commit import GroupCommit, Queued

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

    async def __call__(self, batch: list[Queued]) -> list:
        await self.gate.wait()
        self.batches.append(batch)
        if self.down:
            raise DatabaseUnavailable("no connection")
        if any(q.data.quantity == 99 for q in batch):
            raise UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")
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
