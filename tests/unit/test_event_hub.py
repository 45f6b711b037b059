"""The event hub with a fake loader (our own port): a change is never dropped on a failed read."""

import asyncio

import asyncpg
import pytest

from app.persistence.database import Database
from app.services.events import CHANNEL, EventHub, Subscriber

pytestmark = pytest.mark.unit


class FlakyLoader:
    """Fails its first `failures` reads the way a killed pooled connection does."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.reads: list[list[int]] = []
        self.first_read = asyncio.Event()

    async def __call__(self, ids: list[int]) -> list[dict]:
        self.reads.append(ids)
        self.first_read.set()
        if self.failures:
            self.failures -= 1
            raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")
        return [{"sku": f"SKU-{i}", "status": "ok", "available": 1, "low_stock_threshold": 0} for i in ids]


def drained(s: Subscriber) -> list[tuple[str, str]]:
    """What a subscriber was offered so far: (kind, sku) in order."""
    out = []
    while not s.queue.empty():
        e = s.queue.get_nowait()
        assert e is not None
        out.append((e.kind, e.sku))
    return out


async def _next_skus(subscriber: Subscriber, count: int) -> set[str]:
    return {(await asyncio.wait_for(subscriber.queue.get(), 30)).sku for _ in range(count)}  # type: ignore[union-attr]


async def test_a_change_whose_read_fails_is_published_when_the_read_works_again():
    loader = FlakyLoader(failures=2)
    hub = EventHub(Database("unused"), view=dict, coalesce_seconds=0.001, load=loader)
    subscriber = Subscriber(frozenset())
    hub.subscribers.add(subscriber)
    hub._on_notify(None, 0, CHANNEL, "1,2")
    assert await _next_skus(subscriber, 2) == {"SKU-1", "SKU-2"}
    assert len(loader.reads) == 3


async def test_changes_arriving_while_a_read_fails_are_published_with_it():
    loader = FlakyLoader(failures=1)
    hub = EventHub(Database("unused"), view=dict, coalesce_seconds=0.001, load=loader)
    subscriber = Subscriber(frozenset())
    hub.subscribers.add(subscriber)
    hub._on_notify(None, 0, CHANNEL, "1")
    await loader.first_read.wait()
    hub._on_notify(None, 0, CHANNEL, "3")
    assert await _next_skus(subscriber, 2) == {"SKU-1", "SKU-3"}


def test_a_pages_subscriber_gets_its_rows_and_every_alert_and_no_other_stock():
    """The dashboard's stream (issue 13): `alerts=all` with the page's SKUs."""
    hub = EventHub(Database("unused"), view=dict)
    page = Subscriber(frozenset({"A"}), all_alerts=True)
    alerts_only = Subscriber(frozenset(), all_alerts=True)
    everything = Subscriber(frozenset())
    hub.subscribers.update({page, alerts_only, everything})

    def summary(sku: str, status: str) -> dict:
        return {"sku": sku, "status": status, "available": 1, "low_stock_threshold": 2}

    hub._publish([summary("A", "ok"), summary("B", "ok")], alerts=True)  # first sight: no alert yet
    hub._publish([summary("A", "low"), summary("B", "low")], alerts=True)

    assert drained(page) == [("stock", "A"), ("stock", "A"), ("alert", "A"), ("alert", "B")]
    assert drained(alerts_only) == [("alert", "A"), ("alert", "B")]
    assert drained(everything) == [("stock", "A"), ("stock", "B"), ("stock", "A"), ("alert", "A"),
                                   ("stock", "B"), ("alert", "B")]  # fmt: skip


def test_a_dashboard_asking_for_totals_hears_once_per_change_after_its_rows_and_no_one_else_does():
    """The totals row sums products off the page: `totals=all` says, after each batch of changes
    (whichever products), that they changed; a stream that did not ask never sees the kind."""
    hub = EventHub(Database("unused"), view=dict)
    dashboard = Subscriber(frozenset({"A"}), all_alerts=True, all_totals=True)
    page = Subscriber(frozenset({"A"}), all_alerts=True)
    hub.subscribers.update({dashboard, page})
    summaries = [{"sku": sku, "status": "ok", "available": 1, "low_stock_threshold": 0} for sku in ("A", "B")]
    hub._publish(summaries, alerts=True)
    hub._publish(summaries[1:], alerts=True)

    assert drained(dashboard) == [("stock", "A"), ("totals", ""), ("totals", "")]
    assert drained(page) == [("stock", "A")]
    assert not dashboard.every_product


def test_a_resync_leaves_a_subscriber_to_every_product_to_read_the_state_itself():
    """After a lost listener the catalogue is published piece by piece to those following some SKUs;
    one following every product gets RESYNC (its stream reads the state again at its own pace) and
    the alerts, never the catalogue's stock events queued at once."""
    from app.services.events import RESYNC

    hub = EventHub(Database("unused"), view=dict)
    everything, some = Subscriber(frozenset()), Subscriber(frozenset({"A"}))
    hub.subscribers.update({everything, some})
    hub._publish([{"sku": "A", "status": "ok", "available": 9, "low_stock_threshold": 2}], alerts=True)
    for s in (everything, some):
        s.queue.get_nowait()
    everything.queue.put_nowait(RESYNC)  # what _resync does first
    changed = [{"sku": "A", "status": "out", "available": 0, "low_stock_threshold": 2},
               {"sku": "B", "status": "ok", "available": 5, "low_stock_threshold": 2}]  # fmt: skip
    hub._publish(changed, alerts=True, resync=True)
    got = [everything.queue.get_nowait() for _ in range(everything.queue.qsize())]
    assert [(e.kind, e.sku) for e in got if e is not None] == [("resync", ""), ("alert", "A")]
    got = [some.queue.get_nowait() for _ in range(some.queue.qsize())]
    assert [(e.kind, e.sku) for e in got if e is not None] == [("stock", "A"), ("alert", "A")]
