"""Stock locations over /graphql (SPEC §2 "Stock locations"): the locations, a product's stock at
each, transactions' locations, a TRANSFER recorded, and locations created by a manager only — the
same figures and refusals as the REST API."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.graphql_client import data, gql
from tests.integration.helpers import make_product, record, summary, timeline
from tests.integration.test_locations import new_location, stock_by_location

pytestmark = pytest.mark.integration

RECORD = """mutation($input: TransactionInput!, $dry: Boolean! = false) {
  recordTransaction(input: $input, dryRun: $dry) {
    transaction { type quantity location toLocation stockAfter locationStockAfter toLocationStockAfter }
    after { currentStock defaultLocation locations { location onHand reserved available } }
  }
}"""
CREATE = """mutation($input: NewLocation!) { createLocation(input: $input) { code name kind createdAt } }"""
RENAME = """mutation($c: String!) { updateLocation(code: $c, name: "Store room", kind: "transit") {
  code name kind } }"""


@pytest.fixture
async def as_role(server, tokens):
    """A client per role, made on demand."""
    clients: list[httpx.AsyncClient] = []

    def make(role: str) -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(tokens[role])))
        return clients[-1]

    yield make
    for client in clients:
        await client.aclose()


async def test_locations_are_listed_and_a_manager_creates_one_as_over_rest(api, as_role):
    code = f"G-{uuid.uuid4().hex[:8]}"
    made = await data(as_role("manager"), CREATE, {"input": {"code": code, "name": "Back room"}})
    assert {k: made["createLocation"][k] for k in ("code", "name", "kind")} == {
        "code": code, "name": "Back room", "kind": "storage",
    }  # fmt: skip
    listed = (await data(as_role("viewer"), "{ locations { code name kind } }"))["locations"]
    assert listed[0]["code"] == "MAIN"
    assert {"code": code, "name": "Back room", "kind": "storage"} in listed
    assert [x["code"] for x in listed] == [x["code"] for x in (await api.get("/api/locations")).json()["items"]]

    refused = await gql(as_role("clerk"), CREATE, {"input": {"code": f"{code}-2", "name": "No"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    again = await gql(as_role("manager"), CREATE, {"input": {"code": code, "name": "Twice"}})
    assert again["errors"][0]["extensions"]["code"] == "CONFLICT"
    bad = await gql(as_role("manager"), CREATE, {"input": {"code": "no spaces", "name": "x", "kind": "attic"}})
    assert {a["argument"] for a in bad["errors"][0]["extensions"]["arguments"]} == {"input.code", "input.kind"}

    renamed = await data(as_role("manager"), RENAME, {"c": code})
    assert renamed["updateLocation"] == {"code": code, "name": "Store room", "kind": "transit"}
    missing = await gql(as_role("manager"), 'mutation { updateLocation(code: "NOPE-NOPE", name: "x") { code } }')
    assert missing["errors"][0]["extensions"]["arguments"][0]["argument"] == "code"


async def test_a_transfer_recorded_over_graphql_shows_the_stock_at_both_places(api, as_role):
    manager = as_role("manager")
    store = await new_location(api)
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-01T09:00:00+00:00")
    transfer = {"sku": sku, "type": "TRANSFER", "quantity": 4, "toLocation": store, "at": "2026-01-02T09:00:00Z"}
    moved = await data(manager, RECORD, {"input": transfer})
    assert moved["recordTransaction"]["transaction"] == {
        "type": "TRANSFER", "quantity": 4, "location": "MAIN", "toLocation": store, "stockAfter": 10,
        "locationStockAfter": 6, "toLocationStockAfter": 4,
    }  # fmt: skip
    after = moved["recordTransaction"]["after"]
    assert after["currentStock"] == 10 and after["defaultLocation"] == "MAIN"
    assert after["locations"] == [
        {"location": "MAIN", "onHand": 6, "reserved": 0, "available": 6},
        {"location": store, "onHand": 4, "reserved": 0, "available": 4},
    ]
    sold = await data(manager, RECORD, {"input": {"sku": sku, "type": "SELL", "quantity": 3, "unitPrice": "5.00",
                                                  "location": store}})  # fmt: skip
    assert sold["recordTransaction"]["transaction"]["locationStockAfter"] == 1
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 6, store: 1}

    # The product's locations and the transactions' as REST shows them.
    shown = await data(api, """query($s: String!) {
        product(sku: $s) { locations { location onHand reserved available } }
        transactions(sku: $s) { edges { node { id location toLocation locationStockAfter toLocationStockAfter } } }
    }""", {"s": sku})  # fmt: skip
    rest = await summary(api, sku)
    assert shown["product"]["locations"] == [
        {"location": x["location"], "onHand": x["on_hand"], "reserved": x["reserved"], "available": x["available"]}
        for x in rest["locations"]
    ]
    assert [e["node"] for e in shown["transactions"]["edges"]] == [
        {"id": x["id"], "location": x["location"], "toLocation": x["to_location"],
         "locationStockAfter": x["location_stock_after"], "toLocationStockAfter": x["to_location_stock_after"]}
        for x in reversed(await timeline(api, sku))
    ]  # fmt: skip


async def test_location_refusals_name_the_argument_or_the_location(api, as_role):
    manager = as_role("manager")
    store = await new_location(api)
    sku = await make_product(api)
    await record(api, sku, "BUY", 2, "2.00")
    cases = [
        ({"type": "TRANSFER", "quantity": 1}, "input.toLocation"),  # no destination
        ({"type": "TRANSFER", "quantity": 1, "toLocation": "NOWHERE-AT-ALL"}, "input.toLocation"),
        ({"type": "SELL", "quantity": 1, "unitPrice": "1", "location": "NOWHERE-AT-ALL"}, "input.location"),
        ({"type": "SELL", "quantity": 1, "unitPrice": "1", "toLocation": store}, "input.toLocation"),
    ]
    for fields, argument in cases:
        answer = await gql(manager, RECORD, {"input": {"sku": sku, **fields}})
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", (fields, answer)
        assert argument in {a["argument"] for a in error["extensions"]["arguments"]}, (fields, answer)
    short = await gql(manager, RECORD, {"input": {"sku": sku, "type": "SELL", "quantity": 1, "unitPrice": "1",
                                                  "location": store}})  # fmt: skip
    assert short["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert short["errors"][0]["extensions"]["location"] == store
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_a_keyed_transfer_to_where_it_starts_is_the_same_bad_input_when_sent_again(api, as_role):
    """Only the batch sees the default location, and the key keeps its 400: the repeat is the
    first answer again (BAD_USER_INPUT naming input.toLocation), never a CONFLICT."""
    manager = as_role("manager")
    sku = await make_product(api)
    await record(api, sku, "BUY", 2, "2.00")
    keyed = RECORD.replace("$dry: Boolean! = false)", "$dry: Boolean! = false, $k: String)").replace(
        "dryRun: $dry)", "dryRun: $dry, idempotencyKey: $k)"
    )
    variables = {"input": {"sku": sku, "type": "TRANSFER", "quantity": 1, "toLocation": "MAIN"}, "k": f"gt-{sku}"}
    answers = [await gql(manager, keyed, variables) for _ in range(2)]
    answers.append(await gql(manager, RECORD, {**variables, "dry": True}))  # a dry run names it alike
    for answer in answers:
        error = answer["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT", answer
        assert [a["argument"] for a in error["extensions"]["arguments"]] == ["input.toLocation"], answers
    assert answers[0]["errors"][0]["extensions"] == answers[1]["errors"][0]["extensions"]
    assert answers[0]["errors"][0]["message"] == answers[2]["errors"][0]["message"]
    assert (await summary(api, sku))["transaction_count"] == 1


RESERVE = """mutation($s: String!, $q: Int!, $o: String!, $at: String) {
  reserveStock(skuId: $s, quantity: $q, orderId: $o, location: $at) {
    success message reservation { orderId quantity location }
  }
}"""
CONFIRM = """mutation($s: String!, $q: Int!, $o: String!) {
  confirmReserve(skuId: $s, quantity: $q, orderId: $o, unitPrice: "5.00") {
    success transaction { id } transactions { id type quantity location locationStockAfter }
  }
}"""


async def test_reservations_hold_at_a_location_and_a_confirm_without_one_sells_from_each_it_needs(api):
    store = await new_location(api)
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "2.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 3, at="2026-01-02T09:00:00+00:00", to_location=store)  # MAIN 2, store 3
    held = await data(api, RESERVE, {"s": sku, "q": 3, "o": f"{sku}-at", "at": store})
    assert held["reserveStock"]["reservation"] == {"orderId": f"{sku}-at", "quantity": 3, "location": store}
    too_much = await data(api, RESERVE, {"s": sku, "q": 1, "o": f"{sku}-more", "at": store})
    assert not too_much["reserveStock"]["success"]  # all 3 at the store are held
    unknown = await gql(api, RESERVE, {"s": sku, "q": 1, "o": f"{sku}-x", "at": "NOWHERE-AT-ALL"})
    assert unknown["errors"][0]["extensions"]["arguments"][0]["argument"] == "location"

    listed = await data(api, """query($s: String!, $at: String) {
        reservations(sku: $s, location: $at) { orderId location } }""", {"s": sku, "at": store})  # fmt: skip
    assert listed["reservations"] == [{"orderId": f"{sku}-at", "location": store}]
    shown = await data(api, "query($s: String!) { product(sku: $s) { locations { location reserved available } } }",
                       {"s": sku})  # fmt: skip
    assert shown["product"]["locations"] == [
        {"location": "MAIN", "reserved": 0, "available": 2}, {"location": store, "reserved": 3, "available": 0},
    ]  # fmt: skip

    await data(api, """mutation($s: String!, $o: String!) { cancelReserve(skuId: $s, quantity: 3, orderId: $o) {
        success } }""", {"s": sku, "o": f"{sku}-at"})  # fmt: skip
    anywhere = await data(api, RESERVE, {"s": sku, "q": 4, "o": f"{sku}-any"})  # against the total
    assert anywhere["reserveStock"]["reservation"]["location"] is None
    sold = (await data(api, CONFIRM, {"s": sku, "q": 4, "o": f"{sku}-any"}))["confirmReserve"]
    assert sold["success"] and sold["transaction"]["id"] == sold["transactions"][0]["id"]
    assert sorted((x["location"], x["quantity"]) for x in sold["transactions"]) == sorted([("MAIN", 2), (store, 2)])
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 0, store: 1}


async def test_a_locations_stock_a_report_there_and_an_edit_moving_a_row_as_over_rest(api):
    store = await new_location(api)
    skus = sorted([await make_product(api), await make_product(api)])
    for sku in skus:
        await record(api, sku, "BUY", 5, "2.00", at="2026-01-01T09:00:00+00:00", location=store)
    stock = """query($c: String!, $after: String) { location(code: $c) { code kind
        stock(first: 1, after: $after) { items { sku onHand reserved available } next } } }"""
    first = (await data(api, stock, {"c": store}))["location"]
    assert first["stock"] == {"items": [{"sku": skus[0], "onHand": 5, "reserved": 0, "available": 5}], "next": skus[0]}
    second = (await data(api, stock, {"c": store, "after": skus[0]}))["location"]["stock"]
    assert second == {"items": [{"sku": skus[1], "onHand": 5, "reserved": 0, "available": 5}], "next": None}
    rest = (await api.get(f"/api/locations/{store}/stock", params={"limit": 1})).json()
    assert (rest["items"][0]["sku"], rest["next"]) == (skus[0], skus[0])
    assert (await data(api, '{ location(code: "NOPE-NOPE") { code } }'))["location"] is None

    low = """query($at: String) { report(name: "low-stock", location: $at) }"""
    assert (await data(api, low, {"at": store}))["report"] == (
        await api.get("/api/reports/low-stock", params={"location": store})
    ).json()
    unknown = await gql(api, low, {"at": "NOPE-NOPE"})
    assert unknown["errors"][0]["extensions"]["arguments"][0]["argument"] == "location"

    sold = await record(api, skus[0], "SELL", 2, "3.00", at="2026-01-02T09:00:00+00:00", location=store)
    edit = """mutation($id: Int!, $at: String) { editTransaction(id: $id, patch: {location: $at}) {
        transaction { location locationStockAfter } after { locations { location onHand } } } }"""
    refused = await gql(api, edit, {"id": sold["id"], "at": "MAIN"})  # nothing at MAIN to sell
    assert refused["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert refused["errors"][0]["extensions"]["location"] == "MAIN"
    await record(api, skus[0], "BUY", 3, "2.00", at="2026-01-01T10:00:00+00:00", location="MAIN")
    moved = (await data(api, edit, {"id": sold["id"], "at": "MAIN"}))["editTransaction"]
    assert moved["transaction"] == {"location": "MAIN", "locationStockAfter": 1}
    assert stock_by_location(await summary(api, skus[0])) == {"MAIN": 1, store: 5}


async def test_a_location_created_with_an_idempotency_key_over_graphql_is_made_once(api, as_role):
    code = f"GK-{uuid.uuid4().hex[:8]}"
    keyed = """mutation($input: NewLocation!, $k: String) {
        createLocation(input: $input, idempotencyKey: $k) { code name kind } }"""
    answers = [await data(as_role("manager"), keyed, {"input": {"code": code, "name": "Van"}, "k": code}) for _ in "ab"]
    assert answers[0] == answers[1] == {"createLocation": {"code": code, "name": "Van", "kind": "storage"}}
    assert [x["code"] for x in (await api.get("/api/locations")).json()["items"]].count(code) == 1
