"""A retried or double-submitted request never records twice."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.integration.helpers import make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.integration


async def test_the_same_key_three_times_at_once_records_one_sale(api, server, second_server):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 2, "unit_price": "3.00"}
    async with httpx.AsyncClient(base_url=second_server.url, headers=api.headers) as other:
        replies = await asyncio.gather(
            api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"k-{sku}"}),
            other.post("/api/transactions", json=body, headers={"Idempotency-Key": f"k-{sku}"}),
            api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"k-{sku}"}),
        )
    assert [r.status_code for r in replies] == [201, 201, 201]
    assert len({r.json()["id"] for r in replies}) == 1
    assert sum(1 for x in await timeline(api, sku) if x["type"] == "SELL") == 1
    assert (await summary(api, sku))["on_hand"] == 8


async def test_a_retry_after_a_lost_response_replays_it(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    first = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"r-{sku}"})
    await record(api, sku, "SELL", 1, "3.00")  # something else happens meanwhile
    again = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"r-{sku}"})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await summary(api, sku))["on_hand"] == 8


async def test_the_same_key_with_another_quantity_is_422(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    assert (await api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"q-{sku}"})).status_code == 201
    other = await api.post("/api/transactions", json={**body, "quantity": 2}, headers={"Idempotency-Key": f"q-{sku}"})
    assert other.status_code == 422 and "different request" in other.json()["detail"]
    assert (await summary(api, sku))["on_hand"] == 9


async def test_a_refused_request_is_replayed_as_refused(api):
    sku = await make_product(api)
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    first = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"n-{sku}"})
    await record(api, sku, "BUY", 10, "1.00")
    again = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": f"n-{sku}"})
    assert first.status_code == again.status_code == 409 and again.json() == first.json()
    assert (await summary(api, sku))["on_hand"] == 10


async def test_the_entry_form_sent_three_times_at_once_records_once(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    form = (await api.get("/transactions/new", params={"sku": sku})).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)
    fields = {"idempotency_key": key, "sku": sku, "type": "SELL", "quantity": "3", "unit_price": "2.50"}
    replies = await asyncio.gather(*(api.post("/transactions/new", data=fields) for _ in range(3)))
    assert [r.status_code for r in replies] == [303, 303, 303]
    assert len({r.headers["location"] for r in replies}) == 1
    assert (await summary(api, sku))["on_hand"] == 7


async def test_every_mutating_post_of_the_api_takes_a_key(api):
    sku = new_sku("IK")
    made = [await api.post("/api/products", json={"sku": sku, "name": "keyed"}, headers={"Idempotency-Key": f"p-{sku}"})
            for _ in range(2)]  # fmt: skip
    assert [r.status_code for r in made] == [201, 201] and made[1].headers["idempotent-replayed"] == "true"
    await record(api, sku, "BUY", 5, "1.00")
    body = {"sku": sku, "quantity": 2, "order_ref": "ord-1"}
    held = [await api.post("/api/reservations", json=body, headers={"Idempotency-Key": f"r-{sku}"}) for _ in range(2)]
    assert held[0].json() == held[1].json()
    rid = held[0].json()["id"]
    confirms = await asyncio.gather(*(api.post(f"/api/reservations/{rid}/confirm", json={"unit_price": "3"},
                                               headers={"Idempotency-Key": f"c-{sku}"}) for _ in range(3)))  # fmt: skip
    assert {r.status_code for r in confirms} == {200} and len({r.json()["transaction"]["id"] for r in confirms}) == 1
    csv = f"external_id,sku,type,quantity,unit_price,at\nik-{sku},{sku},BUY,1,1.00,2026-01-01T00:00:00Z\n"
    imports = [await api.post("/api/import", content=csv.encode(), headers={"Idempotency-Key": f"i-{sku}"})
               for _ in range(2)]  # fmt: skip
    assert imports[0].json() == imports[1].json() == {"imported": 1, "skipped": 0, "products_created": 0}
    other = await api.post(
        "/api/products", json={"sku": sku + "x", "name": "other"}, headers={"Idempotency-Key": f"p-{sku}"}
    )
    assert other.status_code == 422
    assert (await summary(api, sku))["on_hand"] == 4
