"""Heavy reads take turns: never more than `at_once` run together, and every one gets its turn."""

from __future__ import annotations

import asyncio

import pytest

from app.services.turns import Turns

pytestmark = pytest.mark.unit


async def test_no_more_than_so_many_run_at_once_and_all_run() -> None:
    turns, running, most, done = Turns(2), 0, 0, []

    async def read(i: int) -> None:
        nonlocal running, most
        async with turns():
            running += 1
            most = max(most, running)
            await asyncio.sleep(0)  # others get the loop meanwhile
            await asyncio.sleep(0)
            running -= 1
            done.append(i)

    await asyncio.gather(*(read(i) for i in range(20)))
    assert (most, sorted(done)) == (2, list(range(20)))


def test_each_event_loop_has_its_own_turns() -> None:
    turns = Turns(1)

    async def take() -> asyncio.Semaphore:
        async with turns() as _:
            return turns()

    first, second = asyncio.run(take()), asyncio.run(take())
    assert first is not second
