"""Pausing Python's cyclic garbage collector through a large refold.

A refold of 100,000 rows allocates several hundred thousand small tuples that
all stay alive until it ends; the collector would scan them again and again
(measured: it doubles the time of a 100,000-row edit). None of them form cycles.

Still needed after `settle_after_start_up` (gc.freeze(), young threshold 20,000): folding
100,000 decoded rows took 443 ms of CPU with the collector on and 389 ms paused (median of 9,
issue 11), so the pause stays. The collector is process-wide, so while a refold awaits the
database other requests run without it too; the pause ends with the last refold in flight.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_paused = 0


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
            gc.enable()


def settle_after_start_up() -> None:
    """Once the app has started: move everything alive now (modules, routes, templates) out of
    the collector's sight, and collect the young generation less often. A full collection then
    scans only what requests made, not the whole framework; before, collections triggered by the
    allocations of a batch of sales took about a tenth of a hot product's CPU (py-spy)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)
