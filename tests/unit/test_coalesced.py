"""Look-ups asked for together are answered by one read (a fake read of our own)."""

import asyncio

import pytest

from app.services.coalesced import Coalesced

pytestmark = pytest.mark.unit


class FakeRead:
    """Knows keys "a".."e" (their upper case); each call is recorded; `gate` holds a read open."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self, keys: list[str]) -> dict[str, str]:
        self.calls.append(sorted(keys))
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {k: k.upper() for k in keys if k in "abcde"}


async def test_keys_asked_at_once_are_read_in_one_call_and_each_once() -> None:
    read = FakeRead()
    lookups = Coalesced(read)
    answers = await asyncio.gather(*(lookups.get(k) for k in ["a", "b", "a", "zz", "b", "c"]))
    assert answers == ["A", "B", "A", None, "B", "C"]
    assert read.calls == [["a", "b", "c", "zz"]]


async def test_a_key_asked_during_a_read_waits_for_it_and_others_for_the_next_read() -> None:
    read = FakeRead()
    read.gate.clear()
    lookups = Coalesced(read)
    first = asyncio.create_task(lookups.get("a"))
    await asyncio.sleep(0)  # the read of "a" starts and waits at the gate
    await asyncio.sleep(0)
    same, other, also_other = (asyncio.create_task(lookups.get(k)) for k in ("a", "b", "c"))
    await asyncio.sleep(0)
    read.gate.set()
    assert await asyncio.gather(first, same, other, also_other) == ["A", "A", "B", "C"]
    assert read.calls == [["a"], ["b", "c"]]  # never two reads at once, never a key twice


async def test_a_failed_read_reaches_every_asker_and_the_next_ask_reads_again() -> None:
    read = FakeRead()
    read.fail = ConnectionError("database down")
    lookups = Coalesced(read)
    answers = await asyncio.gather(lookups.get("a"), lookups.get("a"), return_exceptions=True)
    assert [type(a) for a in answers] == [ConnectionError, ConnectionError]
    read.fail = None
    assert await lookups.get("a") == "A"
    assert read.calls == [["a"], ["a"]]


async def test_an_asker_that_gives_up_leaves_the_answer_to_the_others() -> None:
    read = FakeRead()
    read.gate.clear()
    lookups = Coalesced(read)
    leaving, staying = asyncio.create_task(lookups.get("a")), asyncio.create_task(lookups.get("a"))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    leaving.cancel()
    read.gate.set()
    assert await staying == "A"
    assert leaving.cancelled()


def test_a_read_left_behind_by_a_closed_loop_does_not_hold_up_the_next_loop() -> None:
    read = FakeRead()
    lookups = Coalesced(read)
    first_loop = asyncio.new_event_loop()
    first_loop.set_exception_handler(lambda loop, context: None)  # its tasks are dropped on purpose
    read.gate = asyncio.Event()  # never set in the first loop: its read never ends

    async def ask_and_leave() -> None:
        asking = asyncio.ensure_future(lookups.get("a"))
        await asyncio.sleep(0.01)
        assert not asking.done()

    first_loop.run_until_complete(ask_and_leave())
    first_loop.close()  # as a test's loop ends: the read and its asker never finish

    async def ask_again() -> str | None:
        read.gate = asyncio.Event()
        read.gate.set()
        return await asyncio.wait_for(lookups.get("a"), 5)

    assert asyncio.run(ask_again()) == "A"
