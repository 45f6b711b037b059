"""Freeing a large refold's rows a piece at a time, with the event loop's turns in between.

A refold of 100,000 rows ends with about a million small objects (each row's entry, figures and
their Decimals) that nothing needs any more. Left to die with the last reference to them, CPython
frees them all in one chain of C calls that holds the GIL: 45–57 ms, measured with a watchdog
thread, in which the event loop answered nothing (the worst `/healthz` during a long edit, issue 12).
`free_piecemeal` takes the rows over and frees PIECE of them at a time in a task of the loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

PIECE = 2048  # rows freed per turn of the event loop: about 1 ms of a 100,000-row refold's 45
SMALL = PIECE  # fewer rows than this are freed at once, as they always were

# What each freeing task holds; also the strong reference to the task (the loop keeps only weak ones).
_freeing: dict[asyncio.Task[None], list[Any]] = {}


def free_piecemeal(rows: Sequence[Any]) -> None:
    """Hold `rows` (a new list of them: the caller's sequence may then die at once, since freeing it
    only lets go of references) and free them a piece at a time on the running event loop. The caller
    must keep no other reference to the rows themselves, or they are freed when that one goes."""
    if len(rows) < SMALL:
        return
    held = list(rows)
    task = asyncio.get_running_loop().create_task(_free(held))
    _freeing[task] = held
    task.add_done_callback(_forget)


def rows_waiting() -> int:
    """How many rows are still to be freed."""
    return sum(len(held) for held in _freeing.values())


def _forget(task: asyncio.Task[None]) -> None:
    _freeing.pop(task, None)


async def _free(held: list[Any]) -> None:
    while held:
        del held[-PIECE:]
        await asyncio.sleep(0)
