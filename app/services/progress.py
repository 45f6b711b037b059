"""Import progress for the browser that started the import (in this process).

The page opens its progress stream before it sends the file; the import reports to the
same token. Both requests must reach the same app process (the default single process does).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from app.domain.immutable import immutable


@immutable
class Step:
    done: int  # rows imported so far
    total: int  # rows in the file
    label: str  # what is being done: the product just imported
    finished: bool = False
    products_done: int = 0  # products imported so far, of `products` (0: not told)
    products: int = 0


class ProgressHub:
    def __init__(self) -> None:
        self._queues: dict[str, asyncio.Queue[Step]] = {}

    def _queue(self, token: str) -> asyncio.Queue[Step]:
        return self._queues.setdefault(token, asyncio.Queue())

    def report(self, token: str, step: Step) -> None:
        if token:
            self._queue(token).put_nowait(step)

    async def follow(self, token: str, idle_seconds: float = 600) -> AsyncIterator[Step]:
        """Steps for `token` until the import finishes (or nothing happens for a long while)."""
        queue = self._queue(token)
        try:
            while True:
                step = await asyncio.wait_for(queue.get(), timeout=idle_seconds)
                yield step
                if step.finished:
                    return
        except TimeoutError:
            return
        finally:
            self._queues.pop(token, None)
