"""With nobody subscribed, a process's event hub reads only each changed product's stock status
(not its whole summary), and still judges the next alert against it."""

from __future__ import annotations

import uuid
from datetime import UTC

import pytest

pytestmark = pytest.mark.integration


async def test_an_unwatched_change_is_remembered_for_the_next_alert(opened_database) -> None:
    from app.display import Display
    from app.services.events import EventHub, Subscriber
    from app.services.ledger import LedgerService
    from app.services.locks import ProductLocks
    from app.services.products import ProductService
    from app.web.views import product_view

    db = opened_database
    ledger = LedgerService(ProductLocks(), UTC, db=db, display=Display.of())  # type: ignore[arg-type]
    products = ProductService(db)  # type: ignore[arg-type]
    read_whole: list[list[int]] = []
    hub = EventHub(db, product_view, coalesce_seconds=0)  # type: ignore[arg-type]

    async def load(ids: list[int]) -> list[dict[str, object]]:
        read_whole.append(ids)
        return await hub.load_summaries(ids)

    hub._load = load
    sku = f"HUB-{uuid.uuid4().hex[:8]}"
    product = await products.create({"sku": sku, "name": "hub", "low_stock_threshold": 5})

    async def sell(quantity: int) -> None:
        await ledger.record(ledger.parse({"sku": sku, "type": "SELL", "quantity": quantity, "unit_price": "2"}))
        hub._pending.add(product.id)  # what its change notice does
        await hub._flush()

    await ledger.record(ledger.parse({"sku": sku, "type": "BUY", "quantity": 10, "unit_price": "1"}))
    await sell(6)  # ok -> low, unwatched
    assert hub._status == {sku: "low"} and read_whole == []

    watcher = Subscriber(frozenset({sku}))
    hub.subscribers.add(watcher)
    await sell(1)  # still low: a stock event, no alert
    await sell(3)  # low -> out: an alert
    events = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
    assert [(e.kind, e.data["available"]) for e in events if e is not None] == [
        ("stock", 3), ("stock", 0), ("alert", 0)
    ]  # fmt: skip
    assert read_whole == [[product.id], [product.id]]
