"""A retried or double-submitted request never records twice."""

from __future__ import annotations

import asyncio
import importlib
import json
import re

import httpx
import pytest

from app.persistence.database import Database
from app.services import idempotency
from app.services.idempotency import fingerprint
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
    assert first.status_code == again.status_code == 409
    assert again.content == first.content  # byte for byte: the kept outcome is its exact text
    assert (await summary(api, sku))["on_hand"] == 10


async def test_a_transfer_to_where_it_starts_refused_in_its_batch_is_refused_alike_when_sent_again(api):
    """Only the batch sees the product's default location: its 400 is kept with the key, so that
    the same request sent again (one after the other, and two at once) is the same 400, never a 500."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "TRANSFER", "quantity": 1, "to_location": "MAIN"}
    key = {"Idempotency-Key": f"t-{sku}"}
    first = await api.post("/api/transactions", json=body, headers=key)
    assert first.status_code == 400, first.text
    assert first.json()["extra"]["errors"] == [{"field": "to_location", "message": "must differ from location (MAIN)"}]
    again = await api.post("/api/transactions", json=body, headers=key)
    assert again.status_code == 400 and again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    pair = {"Idempotency-Key": f"t2-{sku}"}
    both = await asyncio.gather(*(api.post("/api/transactions", json=body, headers=pair) for _ in range(2)))
    assert [r.status_code for r in both] == [400, 400] and both[0].json() == first.json() == both[1].json()
    assert (await summary(api, sku))["on_hand"] == 10 and len(await timeline(api, sku)) == 1


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


async def test_the_product_page_form_refused_and_sent_again_at_once_is_refused_each_time(api):
    """A replay answers what the first request answered: a repeat that finds the key taken by a
    refused sale shows that refusal too (it used to show a fresh form saying nothing)."""
    sku = await make_product(api)
    page = (await api.get(f"/products/{sku}")).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"idempotency_key": key, "type": "SELL", "quantity": "5", "unit_price": "1.00"}
    replies = await asyncio.gather(*(api.post(f"/products/{sku}/transactions", data=form) for _ in range(3)))
    assert [r.status_code for r in replies] == [409, 409, 409]
    assert all("would leave stock at -5" in r.text for r in replies)


# The migration that made keys keep outcomes instead of HTTP answers.
MIGRATION = importlib.import_module("migrations.stockroom_2026_11_30t11_00_00_000000")
OLD_TABLE = """CREATE TEMP TABLE idempotency_key (scope varchar(100) NOT NULL, key varchar(200) NOT NULL,
    fingerprint varchar(64) NOT NULL, status_code integer, response jsonb,
    created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, key))"""
MIGRATED = "scope, key, fingerprint, created_at, outcome, transaction_id"


async def test_answers_stored_before_keys_kept_outcomes_are_replayed_as_they_were(api, db):
    """Rows the old code stored (an HTTP status and body) go through the migration (run here on a
    temporary table of the old shape, which hides the real one in this session), then into the
    real table: the API replays them as they were, and a recorded sale still names its row."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    sold = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    sale = await record(api, sku, "SELL", 1, "3.00")  # the row an old answer named
    refused = {"sku": sku, "type": "SELL", "quantity": 99, "unit_price": "3.00"}
    conflict = {"status_code": 409, "detail": f"Cannot sell 99 of {sku}", "extra": {"stock": 9}}
    scope = "token:admin1"
    await db.execute(OLD_TABLE)
    await db.executemany(
        "INSERT INTO idempotency_key (scope, key, fingerprint, status_code, response) VALUES ($1, $2, $3, $4, $5)",
        [(scope, f"old-{sku}", fingerprint(sold), 201, json.dumps(sale)),
         (scope, f"old-409-{sku}", fingerprint(refused), 409, json.dumps(conflict))],
    )  # fmt: skip
    await db.execute(MIGRATION.SQL)
    await db.execute(f"INSERT INTO public.idempotency_key ({MIGRATED}) SELECT {MIGRATED} FROM pg_temp.idempotency_key")
    again = await api.post("/api/transactions", json=sold, headers={"Idempotency-Key": f"old-{sku}"})
    assert (again.status_code, again.json(), again.headers["idempotent-replayed"]) == (201, sale, "true")
    no = await api.post("/api/transactions", json=refused, headers={"Idempotency-Key": f"old-409-{sku}"})
    assert (no.status_code, no.json(), no.headers["idempotent-replayed"]) == (409, conflict, "true")
    named = await db.fetchval("SELECT transaction_id FROM public.idempotency_key WHERE key = $1", f"old-{sku}")
    assert named == sale["id"]
    assert (await summary(api, sku))["on_hand"] == 9


async def test_keys_older_than_48_hours_are_purged(db, database_url):
    scope = f"token:purge-{new_sku()}"
    await db.execute(
        """INSERT INTO idempotency_key (scope, key, fingerprint, created_at)
           VALUES ($1, 'old', 'f', now() - interval '49 hours'), ($1, 'new', 'f', now() - interval '47 hours')""",
        scope,
    )
    async with Database(database_url, pool_size=1).opened() as opened:
        await idempotency.purge(opened)
    assert [r["key"] for r in await db.fetch("SELECT key FROM idempotency_key WHERE scope = $1", scope)] == ["new"]


async def test_a_key_longer_than_200_characters_is_refused_never_cut(api):
    # Cut to 200, two orders' keys alike in their first 200 characters were one key: the second sale
    # was answered as a replay of the first and never recorded.
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    for order in ("order-1", "order-2"):
        refused = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": "K" * 200 + order})
        assert refused.status_code == 400, refused.text
        assert "idempotency_key: must be at most 200 characters (got 207)" in refused.json()["detail"]
    exactly = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": "K" * 200})
    assert exactly.status_code == 201
    assert (await summary(api, sku))["on_hand"] == 9


async def test_two_idempotency_key_headers_are_refused(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    twice = await api.post(
        "/api/transactions", json=body, headers=[("Idempotency-Key", f"a-{sku}"), ("Idempotency-Key", f"b-{sku}")]
    )
    assert twice.status_code == 400 and "idempotency_key: is given more than once" in twice.json()["detail"]
    assert (await summary(api, sku))["on_hand"] == 10


async def test_an_empty_key_is_a_400_and_records_nothing(api):
    """Taken as no key, the client's retry would record its sale a second time. (A header of spaces
    arrives empty: HTTP trims them.)"""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    body = {"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "3.00"}
    for _ in range(2):
        r = await api.post("/api/transactions", json=body, headers={"Idempotency-Key": ""})
        assert r.status_code == 400, r.text
        assert [e["field"] for e in r.json()["extra"]["errors"]] == ["idempotency_key"]
        assert "is empty" in r.json()["detail"]
    assert (await summary(api, sku))["on_hand"] == 10
