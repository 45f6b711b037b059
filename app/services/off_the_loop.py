"""Running a long piece of pure Python work (a refold's fold) in a worker thread.

On the event loop, a 100,000-row fold made every other request's awaits wait for it: folded in
slices of 2,048 rows, sales of other products took p99 183 ms and `/healthz` up to 94 ms during a
backdated edit (issue 12). In a thread the fold still needs the GIL, but the interpreter takes the
GIL from it for the event loop's thread whenever that thread has waited `SWITCH_INTERVAL`; the
default (5 ms) is paid at nearly every socket read and write the loop makes, so while such work
runs it is 0.5 ms (measured side by side against 1 ms, 0.25 ms and the slices on the loop: see
docs/performance.md). The interval is process-wide; it returns to its usual value when the last
such work ends.

Only for work that touches nothing another coroutine may change meanwhile: the fold reads its
own rows and returns new values.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

SWITCH_INTERVAL = 0.0005  # seconds; Python's default is 0.005

P = ParamSpec("P")
T = TypeVar("T")

_running = 0
_usual_interval = sys.getswitchinterval()


async def in_a_thread(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)` in the loop's default executor, handing the GIL back often."""
    with _switching_often():
        return await asyncio.to_thread(work, *args, **kwargs)


def threaded(work: Callable[P, T]) -> Callable[P, Coroutine[Any, Any, T]]:
    """An async function taking `work`'s arguments, whatever they are, that runs it `in_a_thread`."""

    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return await in_a_thread(work, *args, **kwargs)

    return run


@contextmanager
def _switching_often() -> Iterator[None]:
    global _running, _usual_interval
    _running += 1
    if _running == 1:
        _usual_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        _running -= 1
        if _running == 0:
            sys.setswitchinterval(_usual_interval)
