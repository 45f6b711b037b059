"""Pooled connections go back to the pool without a reset query (`database.keep_session`): what a
request leaves in its connection's session would reach the next request that gets it. So nothing
the app does on a pooled connection may outlive its transaction: no advisory lock held, no setting
changed, no cursor open, no LISTEN, no transaction left open."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.integration


# A setting counts once its value differs from the session's start: asyncpg's own type introspection
# switches `jit` off and back with set_config(), which marks it as set in the session, unchanged.
SESSION_STATE = """
SELECT (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory') AS advisory_locks,
       (SELECT coalesce(array_agg(name || ': ' || statement), '{}') FROM pg_cursors WHERE name <> '') AS cursors,
       (SELECT coalesce(array_agg(c), '{}') FROM pg_listening_channels() c) AS channels,
       (SELECT coalesce(array_agg(name), '{}') FROM pg_settings
        WHERE source = 'session' AND setting IS DISTINCT FROM reset_val) AS session_settings,
       pg_current_xact_id_if_assigned() IS NOT NULL AS in_a_transaction
"""


async def test_a_pooled_connection_comes_back_as_it_was_lent(opened_database) -> None:
    from app.display import Display
    from app.services.ledger import LedgerService
    from app.services.locks import ProductLocks
    from app.services.products import ProductService

    db = opened_database
    ledger = LedgerService(ProductLocks(), UTC, db=db, display=Display.of())  # type: ignore[arg-type]
    products = ProductService(db)  # type: ignore[arg-type]
    sku = f"POOL-{uuid.uuid4().hex[:8]}"
    await products.create({"sku": sku, "name": "pool"})
    start = datetime.now(UTC) - timedelta(days=1)
    bought = await ledger.record(ledger.parse({"sku": sku, "type": "BUY", "quantity": 50, "unit_price": "2.00",
                                               "at": start.isoformat()}))  # fmt: skip
    # Group-committed sales (try-locks under SET LOCAL lock_timeout), some refused, all at once.
    sales = [ledger.record(ledger.parse({"sku": sku, "type": "SELL", "quantity": 4, "unit_price": "5.00"}))
             for _ in range(20)]  # fmt: skip
    answers = await asyncio.gather(*sales, return_exceptions=True)
    assert sum(not isinstance(a, Exception) for a in answers) == 12  # 50 units: 12 sales of 4
    # A backdated edit: its own locks, a spare reader, a savepoint when it writes early.
    assert bought.row is not None and bought.row.entry.id is not None
    await ledger.edit(bought.row.entry.id, {"quantity": 60}, actor="test")
    refused = ledger.edit(bought.row.entry.id, {"quantity": 10}, actor="test")  # would oversell later
    with pytest.raises(Exception, match="Rejected"):
        await refused
    # A read of the timeline, outside any transaction.
    product = await products.get(sku)
    assert len(await ledger.timeline(product, 100, 0)) == 13

    held = [await db.pool.acquire() for _ in range(db.pool.get_max_size())]
    try:
        states = [dict(await conn.fetchrow(SESSION_STATE)) for conn in held]
    finally:
        for conn in held:
            await db.pool.release(conn)
    assert states == [
        {"advisory_locks": 0, "cursors": [], "channels": [], "session_settings": [], "in_a_transaction": False}
    ] * len(held)
