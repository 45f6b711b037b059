"""At most so many of one kind of work at a time in a process: the heavy reads (a CSV export's COPY,
a page of the product list) take turns, so that a flood of them neither takes every pooled
connection nor fills the event loop with work that a sale then waits behind."""

from __future__ import annotations

import asyncio
import weakref


class Turns:
    def __init__(self, at_once: int) -> None:
        self.at_once = at_once
        # One semaphore per event loop: an asyncio primitive belongs to the loop that first waits on it.
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self) -> asyncio.Semaphore:
        """This loop's semaphore: `async with turns():` waits for a turn."""
        loop = asyncio.get_running_loop()
        turns = self._by_loop.get(loop)
        if turns is None:
            turns = self._by_loop[loop] = asyncio.Semaphore(self.at_once)
        return turns
