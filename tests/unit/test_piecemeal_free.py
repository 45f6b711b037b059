"""A large refold's rows are freed a piece at a time, with the event loop's turns in between."""

from __future__ import annotations

import asyncio
import weakref

import pytest

from app.services.piecemeal_free import PIECE, SMALL, free_piecemeal, rows_waiting

pytestmark = pytest.mark.unit


class Row:
    """Something a weak reference can watch (the ledger's NamedTuples cannot be)."""


async def test_the_rows_outlive_their_last_holder_and_die_a_piece_per_turn_of_the_loop() -> None:
    rows = [Row() for _ in range(3 * PIECE + 5)]
    watched = [weakref.ref(r) for r in rows]
    free_piecemeal(tuple(rows))
    del rows
    assert sum(w() is not None for w in watched) == 3 * PIECE + 5  # nothing freed yet: no turn has passed
    alive = []
    while any(w() is not None for w in watched):
        await asyncio.sleep(0)
        alive.append(sum(w() is not None for w in watched))
    assert alive == [2 * PIECE + 5, PIECE + 5, 5, 0]  # each turn frees one piece, from the end
    assert rows_waiting() == 0


async def test_a_few_rows_are_left_to_die_at_once() -> None:
    rows = [Row() for _ in range(SMALL - 1)]
    watched = weakref.ref(rows[0])
    free_piecemeal(rows)
    del rows
    assert watched() is None and rows_waiting() == 0
