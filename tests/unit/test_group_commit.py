"""Group commit with a fake committer (our own port): batching and per-request answers."""

import asyncio
from datetime import UTC, datetime

import pytest

from app.domain.errors import Conflict
from app.domain.inputs import TransactionInput
from app.domain.rules import TxType
from app.services.group_commit import GroupCommit, Queued

pytestmark = pytest.mark.unit


def sale(product_id: int, quantity: int) -> Queued:
    return Queued(product_id, TransactionInput("SKU", TxType.SELL, quantity, datetime.now(UTC)))


class FakeCommitter:
    """Commits by remembering batches; a quantity of 13 is refused, 99 breaks the whole batch."""

    def __init__(self) -> None:
        self.batches: list[list[Queued]] = []
        self.gate = asyncio.Event()

    async def __call__(self, batch: list[Queued]) -> list:
        await self.gate.wait()
        self.batches.append(batch)
        if any(q.data.quantity == 99 for q in batch):
            raise RuntimeError("database went away")
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


async def test_a_failed_batch_answers_every_request_in_it_with_the_error():
    fake = FakeCommitter()
    fake.gate.set()
    group = GroupCommit(fake, max_batch=100)
    answers = await asyncio.gather(group.submit(sale(1, 99)), group.submit(sale(2, 1)), return_exceptions=True)
    assert all(isinstance(a, RuntimeError) for a in answers)


async def test_batches_never_exceed_the_maximum():
    fake = FakeCommitter()
    group = GroupCommit(fake, max_batch=2)
    tasks = [asyncio.create_task(group.submit(sale(1, q))) for q in range(1, 6)]
    await asyncio.sleep(0)
    fake.gate.set()
    assert await asyncio.gather(*tasks) == [f"ok {q}" for q in range(1, 6)]
    assert [len(b) for b in fake.batches] == [2, 2, 1]
