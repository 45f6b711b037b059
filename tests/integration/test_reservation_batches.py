"""Reservations arriving together commit together and still get their own answers."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from app.persistence.database import PRODUCT_LOCK_NAMESPACE
from tests.integration.helpers import anomalies, hold_units, make_product, record, summary, timeline
from tests.integration.test_location_clerk import csrf_of, signed_in

pytestmark = pytest.mark.integration


async def test_the_same_order_sent_many_times_at_once_holds_once(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    hold = {"sku": sku, "quantity": 3, "order_ref": "twice"}
    replies = await asyncio.gather(*(api.post("/api/reservations", json=hold) for _ in range(20)))
    assert Counter(r.status_code for r in replies) == Counter({201: 1, 200: 19})
    assert len({r.json()["id"] for r in replies}) == 1 and all(r.json()["id"] > 0 for r in replies)
    assert (await summary(api, sku))["reserved"] == 3


async def test_the_same_order_with_another_quantity_in_one_burst_is_a_conflict(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    replies = await asyncio.gather(*(
        api.post("/api/reservations", json={"sku": sku, "quantity": q, "order_ref": "mixed"}) for q in (2, 5, 2)
    ))  # fmt: skip
    codes = sorted(r.status_code for r in replies)
    assert codes in ([200, 201, 409], [201, 409, 409])  # whichever came first holds; other quantities conflict
    held = (await summary(api, sku))["reserved"]
    assert held in (2, 5)


async def test_a_burst_over_several_products_reserves_exactly_what_each_has(api):
    skus = [await make_product(api) for _ in range(3)]
    for sku in skus:
        await record(api, sku, "BUY", 7, "1.00")
    replies = await asyncio.gather(*(
        api.post("/api/reservations", json={"sku": skus[i % 3], "quantity": 1, "order_ref": f"b-{i}"})
        for i in range(60)
    ))  # fmt: skip
    assert Counter(r.status_code for r in replies) == Counter({201: 21, 409: 39})
    assert [(await summary(api, sku))["reserved"] for sku in skus] == [7, 7, 7]
    assert await anomalies(api) == []


async def confirm(api, reservation_id: int, price: str = "5.00", key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    return await api.post(f"/api/reservations/{reservation_id}/confirm", json={"unit_price": price}, headers=headers)


async def test_confirms_cancels_repeats_and_sales_sent_together_each_get_their_own_answer(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 60, "2.00")
    holds = await hold_units(api, sku, 40, "storm-")
    confirmed, cancelled, both = holds[:20], holds[20:30], holds[30:35]  # the last 5 stay held
    sent = [
        *(confirm(api, i) for i in confirmed),
        *(confirm(api, i) for i in confirmed[:5]),  # a client that sent its confirm twice
        *(api.post(f"/api/reservations/{i}/cancel") for i in cancelled),
        *(confirm(api, i) for i in both),
        *(api.post(f"/api/reservations/{i}/cancel") for i in both),  # confirm or cancel: whichever came first
        *(api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "6.00"})
          for _ in range(20)),
    ]  # fmt: skip
    replies = await asyncio.gather(*sent)
    confirms, repeats = replies[:20], replies[20:25]
    assert [r.status_code for r in confirms + repeats] == [200] * 25, [r.text for r in confirms + repeats]
    assert [r.json()["transaction"]["id"] for r in repeats] == [r.json()["transaction"]["id"] for r in confirms[:5]]
    assert len({r.json()["transaction"]["id"] for r in confirms}) == 20
    assert all(r.json()["reservation"]["status"] == "confirmed" for r in confirms)
    assert [r.json()["status"] for r in replies[25:35]] == ["cancelled"] * 10
    raced = list(zip(replies[35:40], replies[40:45], strict=True))
    assert all(sorted([c.status_code, x.status_code]) == [200, 409] for c, x in raced), [
        (c.text, x.text) for c, x in raced
    ]
    sold_from_holds = 20 + sum(c.status_code == 200 for c, _ in raced)
    sales = replies[45:]
    assert [r.status_code for r in sales] == [201] * 20  # 60 bought, 40 held: 20 were free
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"]) == (60 - 20 - sold_from_holds, 5)
    rows = [r for r in await timeline(api, sku) if r["type"] == "SELL"]
    assert len(rows) == 20 + sold_from_holds
    listed = (await api.get("/api/reservations", params={"sku": sku, "status": "confirmed"})).json()["items"]
    stored = {r["id"]: r for r in listed}
    assert [r.json()["reservation"] for r in confirms] == [stored[i] for i in confirmed]  # answered as stored
    by_hold = {r["id"]: r for r in rows}
    for reply in confirms:
        sale = by_hold[reply.json()["transaction"]["id"]]
        held = reply.json()["reservation"]
        assert (sale["quantity"], Decimal(sale["unit_price"])) == (1, Decimal("5.00"))
        assert sale["note"] == f"reservation {held['id']}, order {held['order_ref']}"
    assert await anomalies(api) == []


async def test_a_confirm_sent_again_and_again_with_its_key_sells_once(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "2.00")
    (held,) = await hold_units(api, sku, 1, "keyed-")
    replies = await asyncio.gather(*(confirm(api, held, key="pay-1") for _ in range(15)))
    assert [r.status_code for r in replies] == [200] * 15
    assert len({r.json()["transaction"]["id"] for r in replies}) == 1
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in replies) == 14
    assert (await summary(api, sku))["on_hand"] == 4
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY", "SELL"]


async def test_confirms_sent_together_behind_a_row_dated_later_are_placed_before_it(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00")
    later = await record(api, sku, "BUY", 5, "3.00", at=(datetime.now(UTC) + timedelta(minutes=4)).isoformat())
    holds = await hold_units(api, sku, 6, "early-")
    replies = await asyncio.gather(*(confirm(api, i) for i in holds))
    assert [r.status_code for r in replies] == [200] * 6, [r.text for r in replies]
    rows = await timeline(api, sku)
    assert [r["type"] for r in rows] == ["BUY", *["SELL"] * 6, "BUY"]
    assert rows[-1]["id"] == later["id"] and rows[-1]["stock_after"] == 10 - 6 + 5
    assert [r["stock_after"] for r in rows[1:-1]] == [9, 8, 7, 6, 5, 4]
    assert await anomalies(api) == []


async def test_a_refused_confirm_among_others_is_refused_alone(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 4, "2.00")
    holds = await hold_units(api, sku, 3, "fine-")
    (gone,) = await hold_units(api, sku, 1, "cancelled-")
    r = await api.post(f"/api/reservations/{gone}/cancel")
    assert r.status_code == 200
    replies = await asyncio.gather(*(confirm(api, i) for i in [*holds, gone]))
    assert [r.status_code for r in replies] == [200, 200, 200, 409]
    assert "cancelled" in replies[3].json()["detail"]
    assert (await summary(api, sku))["on_hand"] == 1


async def test_confirms_sent_together_are_committed_together(api, db):
    """Group commit, as for sales: a batch's confirms share its transaction, and so its moment.
    (Each alone took ~12 round trips under the product's lock: 134 confirms/s, issue 12.) The product
    is held meanwhile, as a long edit would hold it, so that the confirms gather however slowly a busy
    machine delivers them: raced against their arrival, a run under load once saw 24 moments."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 40, "2.00")
    holds = await hold_units(api, sku, 40, "together-")
    product_id = await db.fetchval("SELECT id FROM product WHERE sku = $1", sku)
    async with db.transaction():
        await db.execute("SELECT pg_advisory_xact_lock($1, $2)", PRODUCT_LOCK_NAMESPACE, product_id)
        sending = asyncio.gather(*(confirm(api, i) for i in holds))
        await asyncio.wait_for(_someone_waits_for_the_lock(db, product_id), 60)
        # Any confirm still on its way when the lock is let go commits later: more moments, not fewer.
        await asyncio.sleep(1)
    replies = await sending
    assert [r.status_code for r in replies] == [200] * 40
    moments = {r.json()["reservation"]["ended_at"] for r in replies}
    assert len(moments) < 20, f"40 confirms sent together were committed in {len(moments)} transactions"


async def _someone_waits_for_the_lock(db, product_id: int) -> None:  # type: ignore[no-untyped-def]
    """Until a transaction other than ours is waiting for the product's lock (its line of confirms)."""
    for _ in range(6000):
        if await db.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = $1 AND objid = $2 AND NOT granted",
            PRODUCT_LOCK_NAMESPACE, product_id,
        ):  # fmt: skip
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no confirm ever waited for the product's lock")


async def test_of_two_clerks_confirming_one_hold_at_once_the_second_is_told_it_was_confirmed_already(api, server):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "2.00")
    (held,) = await hold_units(api, sku, 1, "both-")
    clerks = [await signed_in(server.url, "clerk1") for _ in range(2)]  # two windows
    try:
        forms = [(c, csrf_of((await c.get("/reservations")).text)) for c in clerks]
        replies = await asyncio.gather(*(
            client.post(f"/reservations/{held}/confirm", data={"unit_price": price, "csrf_token": csrf},
                        headers={"HX-Request": "true"})
            for (client, csrf), price in zip(forms, ("8.00", "9.00"), strict=True)
        ))  # fmt: skip
    finally:
        for clerk in clerks:
            await clerk.aclose()
    assert [r.status_code for r in replies] == [200, 200]
    texts = [r.text for r in replies]
    assert sum("Confirmed order both-0: a sale of 1" in t for t in texts) == 1, texts
    assert sum("Order both-0 was already confirmed, and nothing more was sold: a sale of 1" in t for t in texts) == 1
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY", "SELL"]
