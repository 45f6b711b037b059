"""Reservations for orders: hold, confirm as a sale, cancel, expire — never more than is available."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from tests.conftest import start_server
from tests.integration.helpers import anomalies, hold_units, make_product, record, summary, timeline
from tests.integration.test_events import Stream

pytestmark = pytest.mark.integration


async def reserve(api, sku, quantity, order_ref, expect=201, **extra):
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": quantity, "order_ref": order_ref, **extra})
    assert r.status_code == expect, r.text
    return r.json()


async def stocked(api, units=10, **fields):
    sku = await make_product(api, **fields)
    await record(api, sku, "BUY", units, "2.00")
    return sku


async def test_a_reservation_holds_stock_and_a_repeat_returns_it(api):
    sku = await stocked(api, 10, low_stock_threshold=3)
    held = await reserve(api, sku, 7, "order-1")
    assert (held["status"], held["quantity"]) == ("active", 7)
    assert (await reserve(api, sku, 7, "order-1", expect=200))["id"] == held["id"]
    other = await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "order-1"})
    assert other.status_code == 409 and other.json()["extra"]["quantity"] == 7
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"], product["available"], product["status"]) == (10, 7, 3, "low")


async def test_reserving_more_than_is_available_is_refused(api):
    sku = await stocked(api, 5)
    await reserve(api, sku, 4, "a")
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "b"})
    assert r.status_code == 409 and r.json()["extra"] == {"sku": sku, "available": 1, "requested": 2}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 1.5}, "quantity"),
        ({"order_ref": ""}, "order_ref"),
        ({"order_ref": "x" * 101}, "order_ref"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"ttl_seconds": 7 * 24 * 3600 + 1}, "ttl_seconds"),
    ],
)
async def test_a_bad_reservation_field_is_named(api, body, field):
    sku = await stocked(api)
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "o", **body})
    assert r.status_code == 400 and r.json()["extra"]["errors"][0]["field"] == field
    assert (await summary(api, sku))["reserved"] == 0


async def test_confirming_records_one_sell_and_repeating_it_records_nothing_more(api):
    sku = await stocked(api, 10)
    held = await reserve(api, sku, 3, "order-9")
    r = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "7.50"})
    assert r.status_code == 200, r.text
    sale = r.json()["transaction"]
    assert (r.json()["reservation"]["status"], sale["type"], sale["quantity"], sale["revenue"]) == (
        "confirmed",
        "SELL",
        3,
        "22.50",
    )
    again = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "7.50"})
    assert again.status_code == 200 and again.json()["transaction"]["id"] == sale["id"]
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "SELL"]
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"], product["available"]) == (7, 0, 7)
    cancel = await api.post(f"/api/reservations/{held['id']}/cancel")
    assert cancel.status_code == 409 and cancel.json()["extra"]["status"] == "confirmed"


async def test_confirming_again_at_another_price_answers_the_sale_that_was_booked(api):
    sku = await stocked(api, 10)
    held = await reserve(api, sku, 2, "order-np")
    first = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "4.00"})
    again = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "9.00"})
    assert again.status_code == 200, again.text
    assert again.json()["transaction"] == first.json()["transaction"]
    assert Decimal(again.json()["reservation"]["unit_price"]) == Decimal("4")
    assert [(x["type"], Decimal(x["unit_price"])) for x in await timeline(api, sku)][1:] == [("SELL", Decimal("4"))]


async def test_cancelling_releases_the_hold_and_a_cancelled_one_cannot_be_confirmed(api):
    sku = await stocked(api, 10)
    held = await reserve(api, sku, 4, "order-c")
    r = await api.post(f"/api/reservations/{held['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await api.post(f"/api/reservations/{held['id']}/cancel")).json()["status"] == "cancelled"
    confirm = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "1"})
    assert confirm.status_code == 409
    assert (await summary(api, sku))["available"] == 10


async def test_an_expired_reservation_is_not_counted_even_before_the_sweeper_runs(api, db):
    sku = await stocked(api, 5)
    held = await reserve(api, sku, 5, "slow-payer", ttl_seconds=1)
    assert (await summary(api, sku))["available"] == 0
    await asyncio.sleep(1.2)
    assert await db.fetchval("SELECT status FROM reservation WHERE id = $1", held["id"]) == "active"  # unswept
    product = await summary(api, sku)
    assert (product["reserved"], product["available"]) == (0, 5)
    listed = (await api.get("/api/reservations", params={"sku": sku, "status": "expired"})).json()["items"]
    assert [x["id"] for x in listed] == [held["id"]]
    confirm = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "1"})
    assert confirm.status_code == 409 and confirm.json()["extra"]["status"] == "expired"
    # A sale of the whole stock is not blocked by the lapsed hold.
    await record(api, sku, "SELL", 5, "3.00")
    assert await anomalies(api) == []


async def test_the_sweeper_marks_lapsed_reservations_expired(database_url, api, db):
    sku = await stocked(api, 5)
    held = await reserve(api, sku, 2, "sweep-me", ttl_seconds=1)
    sweeper = start_server(database_url, INVENTORY_SWEEP_SECONDS="0.2")
    try:
        async with Stream(sweeper.url, [sku], api.headers) as stream:
            await stream.wait_for(lambda k, d: k == "stock")
            for _ in range(50):
                if await db.fetchval("SELECT status FROM reservation WHERE id = $1", held["id"]) == "expired":
                    break
                await asyncio.sleep(0.1)
            assert await db.fetchval("SELECT status FROM reservation WHERE id = $1", held["id"]) == "expired"
            assert await db.fetchval("SELECT reserved FROM product WHERE sku = $1", sku) == 0
            # The sweep is announced: the stream hears of it (the stored hold is gone).
            await stream.wait_for(lambda k, d: k == "stock" and len(stream.events) > 1)
    finally:
        sweeper.stop()


async def test_a_history_edit_that_would_leave_less_than_is_reserved_is_rejected(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-01-01T09:00:00+00:00")
    await reserve(api, sku, 8, "big-order")
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"quantity": 7})
    assert r.status_code == 409 and r.json()["extra"] == {"sku": sku, "on_hand": 7, "reserved": 8}
    assert (await summary(api, sku))["on_hand"] == 10


async def test_a_thousand_reservations_across_two_processes_hold_exactly_what_is_available(api, server, second_server):
    # Each hold lives `ttl` seconds. On a busy machine the storm can outlast a short TTL, and a hold that
    # lapses mid-storm rightly frees its unit for a later request, so more than 300 succeed: such a round
    # proves nothing about overselling. It is run again, on a fresh product, with a longer TTL; every count
    # is asserted exactly, on a round in which no hold lapsed before the last check of held stock.
    for ttl in (10, 40, 160):
        if await _reservation_storm(api, server, second_server, ttl):
            return
    pytest.fail("a hold lapsed during every round, even with a 160 s TTL")


async def _reservation_storm(api, server, second_server, ttl: int) -> bool:
    """False when a hold lapsed before the checks were done (the round is inconclusive)."""
    sku = await stocked(api, 300)
    limits = httpx.Limits(max_connections=1000)
    clients = [httpx.AsyncClient(base_url=s.url, timeout=120, limits=limits, headers=api.headers)
               for s in (server, second_server)]  # fmt: skip
    try:
        replies = await asyncio.gather(*(
            clients[i % 2].post("/api/reservations",
                                json={"sku": sku, "quantity": 1, "order_ref": f"o-{i}", "ttl_seconds": ttl})
            for i in range(1000)))  # fmt: skip
    finally:
        for c in clients:
            await c.aclose()
    expiries = [datetime.fromisoformat(r.json()["expires_at"]) for r in replies if r.status_code == 201]
    assert expiries, [r.text for r in replies[:3]]
    held = [r.json()["id"] for r in replies if r.status_code == 201]
    confirms = await asyncio.gather(*(api.post(f"/api/reservations/{i}/confirm", json={"unit_price": "5"})
                                      for i in held[:100]))  # fmt: skip
    cancels = await asyncio.gather(*(api.post(f"/api/reservations/{i}/cancel") for i in held[100:180]))
    product = await summary(api, sku)
    if datetime.now(UTC) >= min(expiries):
        print(f"a hold lapsed within its {ttl} s before the round was checked: again with a longer TTL")
        return False  # too slow for this TTL: some hold may have lapsed mid-round
    assert Counter(r.status_code for r in replies) == Counter({201: 300, 409: 700})
    assert [r.status_code for r in confirms + cancels] == [200] * 180, [r.text for r in confirms + cancels][:3]
    assert (product["on_hand"], product["reserved"], product["available"]) == (200, 120, 80)

    await asyncio.sleep((max(expiries) - datetime.now(UTC)).total_seconds() + 0.3)  # the remaining 120 run out
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"], product["available"]) == (200, 0, 200)
    assert sum(1 for x in await timeline(api, sku) if x["type"] == "SELL") == 100
    assert await anomalies(api) == []
    return True


async def test_confirm_racing_cancel_has_exactly_one_winner(api, server, second_server):
    sku = await stocked(api, 200)
    async with httpx.AsyncClient(base_url=second_server.url, timeout=60, headers=api.headers) as other:
        for i in range(200):
            held = await reserve(api, sku, 1, f"race-{i}")
            confirm, cancel = await asyncio.gather(
                api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "3"}),
                other.post(f"/api/reservations/{held['id']}/cancel"),
            )
            assert sorted([confirm.status_code, cancel.status_code]) == [200, 409], (confirm.text, cancel.text)
    sells = sum(1 for x in await timeline(api, sku) if x["type"] == "SELL")
    product = await summary(api, sku)
    assert (product["on_hand"], product["reserved"]) == (200 - sells, 0)
    assert await anomalies(api) == []


async def test_every_hold_can_be_listed_a_page_at_a_time(api):
    """An order system reconciling its holds pages through all of them by `next`, newest first."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    made = await hold_units(api, sku, 7, "page-")
    seen, after, pages = [], None, 0
    while True:
        r = await api.get("/api/reservations", params={"sku": sku, "limit": 3, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [h["id"] for h in page["items"]]
        pages += 1
        after = page["next"]
        if after is None:
            break
    assert seen == made[::-1] and pages == 3  # 3 + 3 + 1, each hold once
    for params, field in (({"after": "x"}, "after"), ({"limit": 501}, "limit"), ({"limit": 0}, "limit")):
        r = await api.get("/api/reservations", params={"sku": sku, **params})
        assert r.status_code == 400 and r.json()["extra"]["errors"][0]["field"] == field, r.text
