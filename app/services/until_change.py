"""Figures kept in this process until the next change: what every render of a filter, or every page of
a past valuation, would otherwise sum again over the whole catalogue (issue 13).

Forgotten whenever the live-events listener (`EventHub`) hears a change notice: every writer, in any
process, announces the products it changed in its transaction, and every process's listener hears it.
Exact, not merely fresh enough: before anything kept is read, the hub's `caught_up` sends a notice to
itself and waits for it; PostgreSQL delivers notices in the order their transactions committed, so
every change committed before the read asked has by then been heard and has emptied what was kept.
Figures computed while a notice was heard are not kept. When the listener is down (or the echo is
slow) they are computed each time. Figures that time alone changes say how long they hold.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from app.domain.immutable import immutable

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@immutable
class _Kept(Generic[V]):
    value: V
    until: float  # the event loop's clock


class UntilChange(Generic[K, V]):
    """Values by key, each kept until a change notice (`forget`) or until the time it holds for passes;
    at most `most` at once, the least recently read dropped first."""

    def __init__(self, caught_up: Callable[[], Awaitable[bool]], most: int = 256) -> None:
        self.caught_up = caught_up
        self.most = most
        self._kept: OrderedDict[K, _Kept[V]] = OrderedDict()
        self._generation = 0  # counts forget(): values computed across one are not kept

    def forget(self) -> None:
        """Something changed (or change notices may have been missed): nothing kept holds."""
        self._kept.clear()
        self._generation += 1

    async def get(self, key: K, compute: Callable[[], Awaitable[tuple[V, float]]]) -> V:
        """The value of `key`, at least as recent as every change committed before this call: kept, or
        `compute`d (which answers the value and for how many seconds it holds if nothing changes)."""
        loop = asyncio.get_running_loop()
        if not await self.caught_up():
            self.forget()
            return (await compute())[0]
        kept = self._kept.get(key)
        if kept is not None and loop.time() < kept.until:
            self._kept.move_to_end(key)
            return kept.value
        generation, started = self._generation, loop.time()
        value, holds_for = await compute()
        if generation == self._generation:
            self._kept[key] = _Kept(value, started + holds_for)
            self._kept.move_to_end(key)
            while len(self._kept) > self.most:
                self._kept.popitem(last=False)
        return value
