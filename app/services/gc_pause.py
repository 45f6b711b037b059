"""Pausing Python's cyclic garbage collector through a large refold.

A refold of 100,000 rows allocates several hundred thousand small tuples that
all stay alive until it ends; the collector would scan them again and again
(measured: it doubles the time of a 100,000-row edit). None of them form cycles.

Still needed after `settle_after_start_up` (gc.freeze(), a young threshold of 20,000 then; YOUNG_THRESHOLD,
100,000, since issue 12, not measured again here): folding
100,000 decoded rows took 443 ms of CPU with the collector on and 389 ms paused (median of 9,
issue 11), so the pause stays. The collector is process-wide, so while a refold awaits the
database other requests run without it too.

The collector comes back only once those tuples are gone. When the pause ends, the refold's
result is still alive (its caller writes it back and builds the answer from it), and the first
young collection after `gc.enable()` would walk all of it: 45 ms for a 100,000-row refold on a
quiet machine, up to 190 ms under load, holding the event loop, and its survivors then cost a
middle and an old collection as long (issue 12). So the collector is switched back on when the
young generation is back to its usual size (the result has been freed), looked at every
RESUME_CHECK seconds on the event loop, or RESUME_AT_THE_LATEST after the last pause ended,
whatever it holds.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000  # see settle_after_start_up
RESUME_CHECK = 0.02  # seconds between looks at the young generation once the last pause ended
RESUME_AT_THE_LATEST = 2.0  # seconds after the last pause ended

_paused = 0
_resume_by = 0.0  # the event loop's time by which the collector is back on, whatever the young hold
_resuming: asyncio.Task[None] | None = None


@contextmanager
def gc_paused() -> Iterator[None]:
    global _paused
    _paused += 1
    if _paused == 1:
        gc.disable()
    try:
        yield
    finally:
        _paused -= 1
        if _paused == 0:
            _resume_soon()


def _young_is_small() -> bool:
    return gc.get_count()[0] <= gc.get_threshold()[0]


def _resume_soon() -> None:
    global _resume_by, _resuming
    if _young_is_small():
        gc.enable()
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # not on an event loop (a command's own work): nothing else waits
        gc.enable()
        return
    _resume_by = loop.time() + RESUME_AT_THE_LATEST
    # A waiter of a loop that was closed without running its tasks to the end (a test's) never
    # comes back: a new one, on this loop.
    if _resuming is None or _resuming.done() or _resuming.get_loop() is not loop:
        _resuming = loop.create_task(_resume_when_young_is_small())


async def _resume_when_young_is_small() -> None:
    """A task, not a timer, so that a loop that ends (asyncio.run returning) cancels it, and the
    collector comes back on then too."""
    global _resuming
    loop = asyncio.get_running_loop()
    try:
        # Polled: nothing signals when the young generation shrinks. Through a new pause too: its
        # end moves _resume_by.
        while True:
            if not _paused and (_young_is_small() or loop.time() >= _resume_by):
                return
            await asyncio.sleep(RESUME_CHECK)
    finally:
        if _resuming is asyncio.current_task():
            _resuming = None
        if not _paused:
            gc.enable()


def settle_after_start_up() -> None:
    """Once the app has started: move everything alive now (modules, routes, templates) out of
    the collector's sight, and collect the young generation less often. A full collection then
    scans only what requests made, not the whole framework; before, collections triggered by the
    allocations of a batch of sales took about a tenth of a hot product's CPU (py-spy).

    Why YOUNG_THRESHOLD is 100,000: under 1,000 concurrent sales the young generation swings by tens
    of thousands of objects with each batch (requests in flight, all alive, none in a cycle). At
    20,000 a young collection ran every ~100 ms, walked 20,000 live objects (8 ms) and found nothing:
    12 % of a hot sale's CPU (py-spy --native, gc_collect_main). At 100,000 it ran twice in 8 s of
    that load (45 ms each): 351 -> 278 µs of CPU per sale; 300,000 and 1,000,000 saved no more."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
