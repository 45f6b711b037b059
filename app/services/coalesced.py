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
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    def __init__(self, read: Callable[[list[K]], Awaitable[dict[K, V]]]) -> None:
        self._read = read  # the keys' values; a key it leaves out has none (None)
        # Each asker waits for an answer of its own, so that one cancelled (its client gone) leaves
        # the others' alone: cheaper than `asyncio.shield` around one shared answer, which made two
        # more futures and callbacks per asker (every confirm asks for its hold: issue 12).
        self._asked: dict[K, list[asyncio.Future[V | None]]] = {}  # not yet read
        self._reading: dict[K, list[asyncio.Future[V | None]]] = {}  # being read
        self._last: asyncio.Task[None] | None = None  # the latest read (the next waits for it)

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        if self._last is not None and self._last.get_loop() is not loop:  # a loop closed mid-read (a test's)
            self._asked, self._reading, self._last = {}, {}, None
        answer: asyncio.Future[V | None] = loop.create_future()
        askers = self._reading.get(key)
        if askers is None:
            askers = self._asked.get(key)
            if askers is None:
                askers = self._asked[key] = []
                if len(self._asked) == 1:  # the first key since the last read began: start the next
                    self._last = loop.create_task(self._read_asked(self._last))
        askers.append(answer)
        return await answer

    async def _read_asked(self, before: asyncio.Task[None] | None) -> None:
        if before is not None:  # one read at a time: keys asked meanwhile wait for the next
            await asyncio.wait([before])
        self._reading, self._asked = self._asked, {}
        try:
            found = await self._read(list(self._reading))
        except Exception as error:  # each asker gets it (a database that is down: their 503)
            for askers in self._reading.values():
                for answer in askers:
                    if not answer.done():
                        answer.set_exception(error)
        except BaseException:  # the read cancelled (the app stopping)
            for askers in self._reading.values():
                for answer in askers:
                    answer.cancel()
            raise
        else:
            for key, askers in self._reading.items():
                value = found.get(key)
                for answer in askers:
                    if not answer.done():  # else its asker gave up
                        answer.set_result(value)
        finally:
            self._reading = {}
