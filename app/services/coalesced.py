"""Look-ups asked for together answered by one read.

When a cache entry is missing (a server just started, a token's few seconds are up), every request
arriving in the same moment misses it at once: under 1,000 concurrent sales each one read the same
row on a pooled connection of its own, and the pool's ten connections made the rest queue. Here the
keys asked for while no read is under way are read together, once each: the first asker starts a
read at the next turn of the event loop, and everyone who asks for a key before it ends waits for
that read's answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    def __init__(self, read: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        self._read = read  # the keys' values; a key it leaves out has none (None)
        self._asked: dict[K, asyncio.Future[V | None]] = {}  # not yet read
        self._reading: dict[K, asyncio.Future[V | None]] = {}  # being read
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        if self._tasks and next(iter(self._tasks)).get_loop() is not loop:  # a loop closed mid-read (a test's)
            self._asked, self._reading, self._tasks = {}, {}, set()
        answer = self._reading.get(key) or self._asked.get(key)
        if answer is None:
            answer = self._asked[key] = loop.create_future()
            answer.add_done_callback(_retrieved)
            if len(self._asked) == 1:  # the first key since the last read began: start the next
                task = loop.create_task(self._read_asked())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        # shield: one asker cancelled (its client gone) must not cancel the answer others wait for
        return await asyncio.shield(answer)

    async def _read_asked(self) -> None:
        while self._reading:  # one read at a time: keys asked meanwhile wait for the next
            await asyncio.wait(list(self._reading.values()))
        self._reading, self._asked = self._asked, {}
        try:
            found = await self._read(list(self._reading))
        except Exception as error:  # each asker gets it (a database that is down: their 503)
            for answer in self._reading.values():
                answer.set_exception(error)
        except BaseException:  # the read cancelled (the app stopping)
            for answer in self._reading.values():
                answer.cancel()
            raise
        else:
            for key, answer in self._reading.items():
                answer.set_result(found.get(key))
        finally:
            self._reading = {}


def _retrieved(answer: asyncio.Future[Any]) -> None:
    """An answer nobody waits for any more (every asker cancelled) must not log its error as unread."""
    if not answer.cancelled():
        answer.exception()
