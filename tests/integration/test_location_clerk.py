"""Users limited to one location (SPEC §2 "Stock locations", last bullet; issue 15: "a clerk limited to
a store records sales there without choosing a location"), over real HTTP on real PostgreSQL: the limit
set from the shell and on /admin, carried by API tokens and browser sessions, and enforced by the
ledger for every transport (REST, the entry form, GraphQL)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from tests.conftest import PASSWORD, ROOT, bearer, inventory_cli
from tests.integration.helpers import make_product, record, summary, timeline
from tests.integration.test_locations import new_location, stock_by_location

pytestmark = pytest.mark.integration


def limited_user(database_url: str, role: str, location: str | None) -> tuple[str, str]:
    """(name, API token) of a new user made with the real CLI, limited to `location` when given."""
    name = f"{role}-{uuid.uuid4().hex[:8]}"
    limit = ["--location", location] if location else []
    inventory_cli("user", "create", name, "--role", role, *limit, stdin=PASSWORD + "\n",
                  INVENTORY_DATABASE_URL=database_url)  # fmt: skip
    return name, inventory_cli("token", "create", name, INVENTORY_DATABASE_URL=database_url)


async def stocked_at(api: httpx.AsyncClient, store: str) -> str:
    """A product with 10 units at MAIN and 5 at `store` (its default location stays MAIN)."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 15, "2.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 5, at="2026-01-02T09:00:00+00:00", to_location=store)
    return sku


def csrf_of(html: str) -> str:
    return html.split('name="csrf_token" value="')[1].split('"')[0]


async def signed_in(base: str, username: str) -> httpx.AsyncClient:
    """A browser-like client with a session of `username` (the caller closes it)."""
    client = httpx.AsyncClient(base_url=base, timeout=60)
    answer = await client.post("/login", data={"username": username, "password": PASSWORD, "next": "/"})
    assert answer.status_code == 303, answer.text
    return client


async def test_a_clerk_limited_to_a_store_sells_there_without_naming_a_location(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "clerk", store)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as clerk:
        sold = await record(clerk, sku, "SELL", 2, "5.00")
        assert (sold["location"], sold["location_stock_after"], sold["stock_after"]) == (store, 3, 13)
        named = await record(clerk, sku, "SELL", 1, "5.00", location=store)
        assert named["location"] == store

        elsewhere = await clerk.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1,
                                                                "unit_price": "5", "location": "MAIN"})  # fmt: skip
        assert elsewhere.status_code == 403, elsewhere.text
        assert elsewhere.json()["extra"] == {"location": "MAIN", "limited_to": store}
        assert "MAIN" in elsewhere.json()["detail"] and store in elsewhere.json()["detail"]
        dry = await clerk.post("/api/transactions", params={"dry_run": "true"},
                               json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "5"})  # fmt: skip
        assert dry.status_code == 200 and dry.json()["transaction"]["location"] == store, dry.text
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 2}


async def test_an_unlimited_clerk_records_at_the_products_default_location_as_before(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "clerk", None)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as clerk:
        assert (await record(clerk, sku, "SELL", 1, "5.00"))["location"] == "MAIN"
        assert (await record(clerk, sku, "SELL", 1, "5.00", location=store))["location"] == store
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 9, store: 4}


async def test_a_limited_manager_changes_only_rows_at_their_location(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "manager", store)
    at_main = await record(api, sku, "SELL", 1, "5.00", at="2026-01-03T09:00:00+00:00")
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as manager:
        here = await record(manager, sku, "SELL", 1, "5.00", at="2026-01-03T10:00:00+00:00")
        assert here["location"] == store
        before = await timeline(api, sku)

        edit = await manager.patch(f"/api/transactions/{at_main['id']}", json={"quantity": 2})
        assert edit.status_code == 403 and edit.json()["extra"]["location"] == "MAIN", edit.text
        moved = await manager.patch(f"/api/transactions/{here['id']}", json={"location": "MAIN"})
        assert moved.status_code == 403 and moved.json()["extra"]["location"] == "MAIN", moved.text
        gone = await manager.delete(f"/api/transactions/{at_main['id']}")
        assert gone.status_code == 403, gone.text
        dry = await manager.delete(f"/api/transactions/{at_main['id']}", params={"dry_run": "true"})
        assert dry.status_code == 403, dry.text
        void = await manager.post(f"/api/transactions/{at_main['id']}/void")
        assert void.status_code == 403, void.text
        transfer = await manager.post("/api/transactions", json={"sku": sku, "type": "TRANSFER", "quantity": 1,
                                                                 "location": store, "to_location": "MAIN"})  # fmt: skip
        assert transfer.status_code == 403 and transfer.json()["extra"]["location"] == "MAIN", transfer.text
        assert await timeline(api, sku) == before

        assert (await manager.patch(f"/api/transactions/{here['id']}", json={"quantity": 2})).status_code == 200
        assert (await manager.delete(f"/api/transactions/{here['id']}")).status_code == 204


async def test_the_admin_page_sets_and_lifts_the_limit_and_the_entry_form_follows_it(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    name = f"clerk-{uuid.uuid4().hex[:8]}"
    admin = await signed_in(server.url, "admin1")
    try:
        page = await admin.get("/admin")
        assert 'id="new-location"' in page.text and f">{store}</option>" in page.text
        made = await admin.post("/admin/users", data={"username": name, "password": PASSWORD, "role": "clerk",
                                                      "location": store, "csrf_token": csrf_of(page.text)})  # fmt: skip
        assert made.status_code == 303, made.text
        listed = (await admin.get("/admin")).text
        assert f"recording only at {store}" in listed  # the one-time notice
        nowhere = {"username": f"x{name}", "password": PASSWORD, "role": "clerk", "location": "NOWHERE",
                   "csrf_token": csrf_of(listed)}  # fmt: skip
        unknown = await admin.post("/admin/users", data=nowhere)
        assert unknown.status_code == 400 and "no location has the code" in unknown.text

        clerk = await signed_in(server.url, name)
        try:
            form = await clerk.get("/transactions/new")
            sent = {"sku": sku, "type": "SELL", "quantity": "1", "unit_price": "5.00",
                    "csrf_token": csrf_of(form.text), "idempotency_key": uuid.uuid4().hex}  # fmt: skip
            assert (await clerk.post("/transactions/new", data=sent)).status_code == 303
            assert (await timeline(api, sku))[-1]["location"] == store
            elsewhere = {**sent, "location": "MAIN", "idempotency_key": uuid.uuid4().hex}
            refused = await clerk.post("/transactions/new", data=elsewhere)  # the form without JavaScript
            assert refused.status_code == 403 and f"you record only at {store}" in refused.text

            lifted = await admin.post(f"/admin/users/{name}/location",
                                      data={"location": "", "csrf_token": csrf_of(listed)})  # fmt: skip
            assert lifted.status_code == 303, lifted.text
            sent = {**sent, "idempotency_key": uuid.uuid4().hex}
            assert (await clerk.post("/transactions/new", data=sent)).status_code == 303
            assert (await timeline(api, sku))[-1]["location"] == "MAIN"  # the product's default again
        finally:
            await clerk.aclose()
    finally:
        await admin.aclose()
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 9, store: 4}


async def test_graphql_records_a_limited_clerks_sale_at_their_store(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "clerk", store)
    sell = """mutation($s: String!) { recordTransaction(input: {sku: $s, type: "SELL", quantity: 1, unitPrice: "5"})
              { transaction { type quantity } } }"""
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as clerk:
        answer = (await clerk.post("/graphql", json={"query": sell, "variables": {"s": sku}})).json()
    assert "errors" not in answer, answer
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 4}


def test_the_shell_limits_a_user_only_to_a_location_that_exists(database_url):
    outside = {k: v for k, v in os.environ.items() if k != "INVENTORY_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "user", "create", f"c-{uuid.uuid4().hex[:8]}", "--role", "clerk",
         "--location", "NOWHERE"], cwd=ROOT, input=PASSWORD + "\n", capture_output=True, text=True,
        env={**outside, "INVENTORY_DATABASE_URL": database_url}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and "location: no location has the code 'NOWHERE'" in done.stderr


async def test_a_limited_clerks_reservation_holds_at_their_store(server, api, database_url, db):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "clerk", store)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as clerk:
        held = await clerk.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "PHONE-1"})
        assert held.status_code == 201, held.text
        assert await db.fetchval("SELECT location FROM reservation WHERE id = $1", held.json()["id"]) == store
        elsewhere = await clerk.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "PHONE-2",
                                                                "location": "MAIN"})  # fmt: skip
        assert elsewhere.status_code == 403, elsewhere.text
        assert elsewhere.json()["extra"] == {"location": "MAIN", "limited_to": store}

        mine = await clerk.post(f"/api/reservations/{held.json()['id']}/confirm", json={"unit_price": "5.00"})
        assert mine.status_code == 200, mine.text
        for hold in ({"location": "MAIN"}, {}):  # at another location, or against the product's total
            theirs = await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": uuid.uuid4().hex,
                                                               **hold})  # fmt: skip
            assert theirs.status_code == 201, theirs.text
            refused = await clerk.post(f"/api/reservations/{theirs.json()['id']}/confirm", json={"unit_price": "5"})
            assert refused.status_code == 403 and refused.json()["extra"]["limited_to"] == store, refused.text
            cancelled = await clerk.post(f"/api/reservations/{theirs.json()['id']}/cancel")  # another store's order
            assert cancelled.status_code == 403 and cancelled.json()["extra"]["limited_to"] == store, cancelled.text
        own = await clerk.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "PHONE-3"})
        assert (await clerk.post(f"/api/reservations/{own.json()['id']}/cancel")).status_code == 200
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 3}


async def test_a_limited_manager_imports_only_rows_naming_their_location(server, api, database_url):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    _, token = limited_user(database_url, "manager", store)
    head = "external_id,sku,type,quantity,unit_price,at,location"
    tag = uuid.uuid4().hex[:8]
    here = f"{tag}-1,{sku},SELL,1,5.00,2026-01-05 09:00,{store}"
    unnamed = f"{head}\n{here}\n{tag}-2,{sku},SELL,1,5.00,2026-01-05 10:00,\n"  # line 3 names no location
    csv_type = {"content-type": "text/csv"}
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as manager:
        refused = await manager.post("/api/import", content=unnamed.encode(), headers=csv_type)
        assert refused.status_code == 403, refused.text
        assert "Line 3" in refused.json()["detail"] and refused.json()["extra"]["limited_to"] == store
        assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 5}  # nothing imported

        named = f"{head}\n{here}\n"
        imported = await manager.post("/api/import", content=named.encode(), headers=csv_type)
        assert imported.status_code == 201, imported.text
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 4}


async def test_a_check_counts_one_location_with_the_units_there(server, api, database_url):
    """GraphQL's updateCheckTime records a COUNT "as recorded": at the product's default location (or
    the caller's own) with the units there, not the product's total (which would invent units)."""
    store = await new_location(api)
    sku = await stocked_at(api, store)
    check = """mutation($s: [String!]!) { updateCheckTime(skus: $s) { success message } }"""
    answer = (await api.post("/graphql", json={"query": check, "variables": {"s": [sku]}})).json()
    assert answer["data"]["updateCheckTime"][0]["success"], answer
    _, token = limited_user(database_url, "manager", store)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as manager:
        answer = (await manager.post("/graphql", json={"query": check, "variables": {"s": [sku]}})).json()
    assert answer["data"]["updateCheckTime"][0]["success"], answer
    counts = [(t["location"], t["quantity"]) for t in await timeline(api, sku) if t["type"] == "COUNT"]
    assert counts == [("MAIN", 10), (store, 5)]
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 10, store: 5}


async def test_a_limited_clerks_reservations_page_offers_confirm_and_cancel_only_on_their_stores_holds(
    server, api, database_url
):
    store = await new_location(api)
    sku = await stocked_at(api, store)
    name, _ = limited_user(database_url, "clerk", store)
    ids = {}
    for where in (store, "MAIN", None):
        body = {"sku": sku, "quantity": 1, "order_ref": f"page-{where}", **({"location": where} if where else {})}
        ids[where] = (await api.post("/api/reservations", json=body)).json()["id"]
    clerk = await signed_in(server.url, name)
    try:
        html = (await clerk.get("/reservations", params={"sku": sku})).text
    finally:
        await clerk.aclose()

    def row(where: str | None) -> str:
        return html.split(f'id="reservation-{ids[where]}"')[1].split("</tr>")[0]

    assert "Confirm</button>" in row(store) and "Cancel</button>" in row(store)
    for where, said in (("MAIN", "Held at MAIN"), (None, "Held against every location")):
        assert "Confirm</button>" not in row(where) and "Cancel</button>" not in row(where)
        assert said in row(where)
