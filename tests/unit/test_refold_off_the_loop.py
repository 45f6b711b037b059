"""A refold's fold runs in a worker thread, and the collector comes back only once its result is gone."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.ledger import EMPTY, Entry, Replay, refold
from app.domain.rules import TxType
from app.domain.summary import Totals
from app.services import gc_pause, writeback
from app.services.gc_pause import gc_paused
from app.services.off_the_loop import SWITCH_INTERVAL, in_a_thread
from app.services.writeback import Writeback, fold_off_the_loop

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def collector_on_afterwards() -> Iterator[None]:
    # On before, too: in the whole suite an in-process test before these (the ledger state machine's
    # services, on pytest-asyncio's loop of its own) can end with a refold's pause still waiting.
    gc.enable()
    yield
    gc.enable()  # whatever a failed test left


def _entries(count: int) -> list[Entry]:
    """A BUY of `count` units, then count - 1 sales of one."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    sales = (Entry(i, at, TxType.SELL, 1, Decimal("3.00")) for i in range(2, count + 1))
    return [Entry(1, at, TxType.BUY, count, Decimal("2.0000")), *sales]


async def test_the_fold_in_a_thread_is_the_fold() -> None:
    rows = _entries(10)
    horizon = (rows[-1].at, rows[-1].seq)
    assert await fold_off_the_loop(EMPTY, rows, horizon) == refold(EMPTY, rows, horizon)


async def test_work_runs_in_another_thread_and_the_switch_interval_comes_back() -> None:
    usual = sys.getswitchinterval()
    seen: list[tuple[int, float]] = []

    def work(x: int) -> int:
        seen.append((threading.get_ident(), sys.getswitchinterval()))
        return x * 2

    assert await asyncio.gather(in_a_thread(work, 1), in_a_thread(work, 2)) == [2, 4]
    assert all(ident != threading.get_ident() and interval == SWITCH_INTERVAL for ident, interval in seen)
    assert sys.getswitchinterval() == usual


async def test_the_collector_waits_for_the_refolds_result_to_be_freed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_pause, "RESUME_AT_THE_LATEST", 3600.0)  # only a small young generation resumes it
    assert gc.isenabled()
    with gc_paused():
        outcome = refold(EMPTY, _entries(3 * gc.get_threshold()[0]), (datetime(2027, 1, 1, tzinfo=UTC), 0))
        assert isinstance(outcome, Replay) and not gc.isenabled()
    assert not gc.isenabled(), "while the result lives, a young collection would walk all of it"
    del outcome
    for _ in range(100):  # the next look, RESUME_CHECK later, finds the young generation small
        await asyncio.sleep(gc_pause.RESUME_CHECK)
        if gc.isenabled():
            break
    assert gc.isenabled()


async def test_the_collector_comes_back_at_the_latest_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gc_pause, "RESUME_AT_THE_LATEST", 3 * gc_pause.RESUME_CHECK)
    with gc_paused():
        kept = refold(EMPTY, _entries(3 * gc.get_threshold()[0]), (datetime(2027, 1, 1, tzinfo=UTC), 0))
    for _ in range(100):
        await asyncio.sleep(gc_pause.RESUME_CHECK)
        if gc.isenabled():
            break
    assert gc.isenabled() and kept is not None


def test_off_an_event_loop_the_collector_comes_back_at_once() -> None:
    with gc_paused():
        kept = refold(EMPTY, _entries(3 * gc.get_threshold()[0]), (datetime(2027, 1, 1, tzinfo=UTC), 0))
    assert gc.isenabled() and kept is not None


def test_a_loop_that_ends_while_the_collector_waits_switches_it_back_on() -> None:
    kept: list[object] = []

    async def refold_and_return() -> None:
        with gc_paused():
            kept.append(refold(EMPTY, _entries(3 * gc.get_threshold()[0]), (datetime(2027, 1, 1, tzinfo=UTC), 0)))
        assert not gc.isenabled()

    asyncio.run(refold_and_return())
    assert gc.isenabled() and kept


async def test_a_sale_appended_writes_nothing_back_and_takes_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_thread(*_: object) -> None:
        raise AssertionError("a thread for one row")

    monkeypatch.setattr(writeback, "in_a_thread", no_thread)
    (placed,) = refold(EMPTY, _entries(1), (datetime(2027, 1, 1, tzinfo=UTC), 0)).posted  # type: ignore[union-attr]
    async with Writeback(None, 1, None, frozenset({placed.entry.seq})) as written:  # type: ignore[arg-type]
        await written.finish([placed])
    assert written.moved == Totals()
