"""A slow connection reset (a loaded machine) must not fail a change that used a spare connection.

asyncpg's `Pool.release(conn)` without a timeout uses the timeout the connection was *acquired*
with as the budget for resetting it. `Database.spare_connection` acquires with a 0.1 s wait, so
releasing the spare reader of an edit or delete gets 0.1 s to run its reset; when the machine is
busy that is not enough, `release` raises TimeoutError, and the whole edit rolls back and is
answered as "the database connection was lost" (503), though nothing was wrong with it. Seen by
the ledger state machine under a load average of 7–8; here the reset is made slow on purpose.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

pytestmark = pytest.mark.integration

SLOW_RESET_SECONDS = 0.3  # more than spare_connection's 0.1 s wait, far less than a pool's acquire timeout


async def test_an_edit_stands_when_its_spare_connection_is_slow_to_reset(opened_database, monkeypatch) -> None:
    from app.services.ledger import LedgerService
    from app.services.locks import ProductLocks

    db = opened_database
    from app.display import Display

    ledger = LedgerService(ProductLocks(), UTC, db=db, display=Display.of())  # type: ignore[arg-type]
    try:
        from app.services.products import ProductService

        products = ProductService(db)  # type: ignore[arg-type]
    except ImportError:  # products as module functions (before issue 11's ProductService)
        from app.services import products as products  # type: ignore[no-redef]
    sku = f"SPARE-{uuid.uuid4().hex[:8]}"
    await products.create({"sku": sku, "name": "spare"})
    start = datetime.now(UTC) - timedelta(days=1)
    bought = await ledger.record(ledger.parse({"sku": sku, "type": "BUY", "quantity": 10, "unit_price": "2.00",
                                               "at": start.isoformat()}))  # fmt: skip
    await ledger.record(ledger.parse({"sku": sku, "type": "SELL", "quantity": 3, "unit_price": "5.00",
                                      "at": (start + timedelta(hours=1)).isoformat()}))  # fmt: skip

    async def slow_reset(conn: asyncpg.Connection) -> None:
        # What a busy machine does to a reset's round trip, on the server where it happens. (The
        # app's own reset, `keep_session`, sends none; a reset that does is what this guards.)
        await conn.execute(f"SELECT pg_sleep({SLOW_RESET_SECONDS})")

    monkeypatch.setattr(db.pool, "_reset", slow_reset)
    assert bought.row is not None and bought.row.entry.id is not None
    edited = await ledger.edit(bought.row.entry.id, {"quantity": 12}, actor="test")
    assert edited.products[0].after.position.stock == 9


async def test_a_request_that_finds_every_connection_busy_is_told_the_server_is_busy(opened_database):
    """Not that the database is unreachable (issue 12's adversarial trial): it answered all along."""
    from litestar import Request

    from app.persistence.database import NoConnectionFree
    from app.web.errors import unavailable_handler

    db = opened_database
    db.acquire_timeout = 0.2
    taken = [await db.pool.acquire() for _ in range(db.pool_size)]
    try:
        with pytest.raises(NoConnectionFree) as caught:
            async with db.read_only():
                pass
    finally:
        for conn in taken:
            await db.pool.release(conn)
    request = Request({"type": "http", "path": "/api/transactions", "headers": []})  # type: ignore[typeddict-item]
    answer = unavailable_handler(request, caught.value)
    assert answer.status_code == 503 and "too busy" in answer.content["detail"]  # type: ignore[index]
