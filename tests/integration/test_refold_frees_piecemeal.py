"""A refold of thousands of rows hands them to be freed a piece at a time (piecemeal_free.py): freed at
once when the refold returns, they held the event loop 45-57 ms for 100,000 rows (issue 12). In process,
on a real PostgreSQL: what each refold hands over is recorded on its way to `free_piecemeal`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import pytest

from app.domain.errors import Conflict

pytestmark = pytest.mark.integration

SALES = 2999


async def test_an_accepted_and_a_refused_long_refold_both_hand_their_rows_over(opened_database, monkeypatch) -> None:
    from app.display import Display
    from app.services import recompute
    from app.services.ledger import LedgerService
    from app.services.locks import ProductLocks
    from app.services.piecemeal_free import rows_waiting
    from app.services.products import ProductService

    handed: list[int] = []
    free_piecemeal = recompute.free_piecemeal

    def recorded(rows: Sequence[Any]) -> None:
        handed.append(len(rows))
        free_piecemeal(rows)

    monkeypatch.setattr(recompute, "free_piecemeal", recorded)
    db = opened_database
    ledger = LedgerService(ProductLocks(), UTC, db=db, display=Display.of())  # type: ignore[arg-type]
    sku = f"FREE-{uuid.uuid4().hex[:8]}"
    await ProductService(db).create({"sku": sku, "name": "a long ledger"})  # type: ignore[arg-type]
    bought = await ledger.record(ledger.parse({"sku": sku, "type": "BUY", "quantity": SALES, "unit_price": "1"}))
    sale = ledger.parse({"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2"})
    await asyncio.gather(*(ledger.record(sale) for _ in range(SALES)))  # appended: no refold, nothing handed
    assert handed == []
    first = bought.row.entry.id
    assert first is not None

    await ledger.edit(first, {"quantity": SALES + 1}, actor="test")  # every row's stock moves
    assert handed == [SALES + 1]

    with pytest.raises(Conflict):  # a later sale would go below 0: the rows folded before it
        await ledger.edit(first, {"quantity": SALES // 2}, actor="test")
    assert len(handed) == 2 and 0 < handed[1] < SALES // 2

    for _ in range(100):
        if not rows_waiting():
            break
        await asyncio.sleep(0)
    assert rows_waiting() == 0
