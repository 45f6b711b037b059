"""/graphql (issue 14): seed 001's operations, sent as the seed writes them, answer the REST API's
figures; its mutations change stock through the same services, roles and idempotency keys."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.graphql_client import data, gql
from tests.integration.helpers import make_product, new_sku, record, summary, timeline
from tests.integration.test_security import csrf_of, login

pytestmark = pytest.mark.integration

# Seed 001's example operations, verbatim ("sku-123" and "order-456" are replaced by real ones).
SEED_DETAIL = """
query {
  inventoryDetail(skuId: "sku-123") {
    id
    skuId
    currentStock
    reservedStock
    availableStock
    warningThreshold
    isLowStock
  }
}"""
SEED_STATS = """
query {
  inventoryStats(skuId: "sku-123") {
    currentStock
    reservedStock
    availableStock
    lowStockAlert
  }
}"""
SEED_LOW = """
query {
  lowStockInventories(limit: 20, offset: 0) {
    id
    skuId
    currentStock
    warningThreshold
  }
}"""
SEED_OUT = """
query {
  outOfStockInventories {
    id
    skuId
    reservedStock
  }
}"""
SEED_CHECK = """
query {
  inventoriesNeedingCheck {
    id
    skuId
    lastCheckTime
  }
}"""
SEED_SUMMARY = """
query {
  inventorySummary {
    totalSkus
    totalStock
    totalReserved
    totalAvailable
    lowStockCount
    outOfStockCount
  }
}"""
SEED_MOVERS = """
query {
  fastMovingInventories(limit: 20) {
    skuId
    outboundTotal
  }

  slowMovingInventories(limit: 10) {
    skuId
    outboundTotal
  }
}"""
SEED_CATEGORY = """
query {
  inventoryByCategory {
    categoryId
    categoryName
    skuCount
    totalStock
    lowStockCount
  }
}"""
SEED_ANOMALIES = """
query {
  anomalousInventories {
    skuId
    currentStock
    reservedStock
    outboundTotal
  }
}"""
SEED_RESERVE = """
mutation {
  reserveStock(
    skuId: "sku-123"
    quantity: 2
    orderId: "order-456"
  ) {
    success
    message
    retriesUsed
    inventory {
      currentStock
      reservedStock
    }
  }
}"""
SEED_CONFIRM = """
mutation {
  confirmReserve(
    skuId: "sku-123"
    quantity: 2
    orderId: "order-456"
  ) {
    success
    message
    inventory {
      currentStock
      reservedStock
      outboundTotal
    }
  }
}"""
SEED_CANCEL = """
mutation {
  cancelReserve(
    skuId: "sku-123"
    quantity: 2
    orderId: "order-456"
  ) {
    success
    message
  }
}"""
SEED_DECREASE = """
mutation {
  decreaseStock(
    skuId: "sku-123"
    quantity: 5
    reason: "物理盘点损耗"
  ) {
    success
    message
    inventory {
      currentStock
      outboundTotal
    }
  }
}"""
SEED_INCREASE = """
mutation {
  increaseStock(
    skuId: "sku-123"
    quantity: 100
    reason: "补货入库"
  ) {
    success
    message
    inventory {
      currentStock
      inboundTotal
    }
  }
}"""


def seed(operation: str, sku: str, order: str = "order-456") -> str:
    return operation.replace("sku-123", sku).replace("order-456", order)


@pytest.fixture
async def as_role(server, tokens):
    """A client per role, made on demand."""
    clients: list[httpx.AsyncClient] = []

    def make(role: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(tokens[role]))
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


async def stocked(api: httpx.AsyncClient, units: int = 100, **fields) -> str:
    sku = await make_product(api, **fields)
    await record(api, sku, "BUY", units, "5.00")
    return sku


async def test_inventory_detail_and_stats_answer_the_rest_figures(api):
    sku = await stocked(api, 100, low_stock_threshold=90, category=f"cat-{new_sku()}")
    await record(api, sku, "SELL", 8, "9.00")
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 5, "order_ref": "o-1"})
    assert r.status_code == 201, r.text
    rest = await summary(api, sku)
    detail = (await data(api, seed(SEED_DETAIL, sku)))["inventoryDetail"]
    assert detail == {
        "id": sku, "skuId": sku, "currentStock": rest["on_hand"], "reservedStock": rest["reserved"],
        "availableStock": rest["available"], "warningThreshold": rest["low_stock_threshold"], "isLowStock": True,
    }  # fmt: skip
    assert (detail["currentStock"], detail["reservedStock"], detail["availableStock"]) == (92, 5, 87)
    stats = (await data(api, seed(SEED_STATS, sku)))["inventoryStats"]
    assert stats == {"currentStock": 92, "reservedStock": 5, "availableStock": 87, "lowStockAlert": True}
    assert (await data(api, seed(SEED_DETAIL, "NO-SUCH-SKU")))["inventoryDetail"] is None


async def test_money_is_a_decimal_string(api):
    sku = await stocked(api, 3)
    await record(api, sku, "BUY", 7, "5.35")
    found = (await data(api, "query($s: String!) { inventoryDetail(skuId: $s) { averageCost inventoryValue } }",
                        {"s": sku}))["inventoryDetail"]  # fmt: skip
    rest = await summary(api, sku)
    assert found == {"averageCost": rest["average_cost"], "inventoryValue": rest["inventory_value"]}
    assert Decimal(found["inventoryValue"]) == Decimal("52.45")


async def test_the_monitoring_lists_answer_the_rest_reports(api):
    low = await stocked(api, 10, low_stock_threshold=50, category=f"cat-{new_sku()}")
    out = await stocked(api, 4, low_stock_threshold=1)
    await record(api, out, "SELL", 4, "6.00")
    low_list = (await data(api, SEED_LOW.replace("limit: 20", "limit: 1000")))["lowStockInventories"]
    every = {"per": 5000}  # the REST lists answer 500 a page by default
    rest_low = (await api.get("/api/reports/low-stock", params=every)).json()["items"]
    rest_out = (await api.get("/api/reports/out-of-stock", params=every)).json()["items"]
    assert {i["skuId"] for i in low_list} == {i["sku"] for i in rest_low + rest_out}
    assert {"id": low, "skuId": low, "currentStock": 10, "warningThreshold": 50} in low_list
    assert [i["skuId"] for i in (await data(api, SEED_LOW))["lowStockInventories"]] == [
        i["skuId"] for i in low_list[:20]
    ]
    outs = (await data(api, SEED_OUT))["outOfStockInventories"]
    assert {i["skuId"] for i in outs} == {i["sku"] for i in rest_out}
    assert {"id": out, "skuId": out, "reservedStock": 0} in outs

    check = (await data(api, SEED_CHECK))["inventoriesNeedingCheck"]
    rest_check = (await api.get("/api/reports/needs-count", params=every)).json()["items"]
    assert {i["skuId"] for i in check} == {i["sku"] for i in rest_check}
    assert {"id": low, "skuId": low, "lastCheckTime": None} in check

    totals = (await data(api, SEED_SUMMARY))["inventorySummary"]
    rest_summary = (await api.get("/api/reports/summary")).json()
    assert totals == {
        "totalSkus": rest_summary["products"], "totalStock": rest_summary["on_hand"],
        "totalReserved": rest_summary["reserved"], "totalAvailable": rest_summary["available"],
        "lowStockCount": rest_summary["by_status"]["low"], "outOfStockCount": rest_summary["by_status"]["out"],
    }  # fmt: skip

    categories = (await data(api, SEED_CATEGORY))["inventoryByCategory"]
    rest_categories = (await api.get("/api/reports/by-category")).json()["items"]
    assert {(c["categoryName"], c["skuCount"], c["totalStock"]) for c in categories} == {
        (c["category"], c["products"], c["on_hand"]) for c in rest_categories
    }
    category = (await summary(api, low))["category"]
    mine = next(c for c in categories if c["categoryId"] == category)
    assert (mine["skuCount"], mine["totalStock"], mine["lowStockCount"]) == (1, 10, 1)

    assert (await data(api, SEED_ANOMALIES))["anomalousInventories"] == []


async def test_fast_and_slow_movers_answer_the_movers_report(api):
    fast = await stocked(api, 1000)
    await record(api, fast, "SELL", 900, "6.00")
    movers = await data(api, SEED_MOVERS)
    rest_fast = (await api.get("/api/reports/movers", params={"limit": 20, "order": "fast"})).json()["items"]
    rest_slow = (await api.get("/api/reports/movers", params={"limit": 10, "order": "slow"})).json()["items"]
    assert [m["skuId"] for m in movers["fastMovingInventories"]] == [m["sku"] for m in rest_fast]
    assert [m["skuId"] for m in movers["slowMovingInventories"]] == [m["sku"] for m in rest_slow]
    assert {"skuId": fast, "outboundTotal": 900} in movers["fastMovingInventories"]


async def test_reserve_confirm_and_cancel_as_the_seed_sends_them(api):
    sku = await stocked(api, 10, sell_price="7.50")
    reserved = (await data(api, seed(SEED_RESERVE, sku)))["reserveStock"]
    assert reserved["success"] and reserved["retriesUsed"] == 0
    assert reserved["inventory"] == {"currentStock": 10, "reservedStock": 2}
    again = (await data(api, seed(SEED_RESERVE, sku)))["reserveStock"]  # the same order: the same hold
    assert again["success"] and again["inventory"] == {"currentStock": 10, "reservedStock": 2}

    confirmed = (await data(api, seed(SEED_CONFIRM, sku)))["confirmReserve"]
    assert confirmed["success"], confirmed
    assert confirmed["inventory"] == {"currentStock": 8, "reservedStock": 0, "outboundTotal": 2}
    sale = (await timeline(api, sku))[-1]
    assert (sale["type"], sale["quantity"], Decimal(sale["unit_price"])) == ("SELL", 2, Decimal("7.50"))

    cancel_after_confirm = (await data(api, seed(SEED_CANCEL, sku)))["cancelReserve"]
    assert not cancel_after_confirm["success"] and "confirmed" in cancel_after_confirm["message"]

    held = (await data(api, seed(SEED_RESERVE, sku, "order-789")))["reserveStock"]
    assert held["inventory"] == {"currentStock": 8, "reservedStock": 2}
    cancelled = (await data(api, seed(SEED_CANCEL, sku, "order-789")))["cancelReserve"]
    assert cancelled == {"success": True, "message": cancelled["message"]}
    rest = await summary(api, sku)
    assert (rest["on_hand"], rest["reserved"], rest["available"]) == (8, 0, 8)


async def test_business_rule_failures_answer_success_false(api):
    sku = await stocked(api, 1)
    too_many = (await data(api, seed(SEED_RESERVE, sku)))["reserveStock"]
    assert too_many["success"] is False
    assert too_many["message"] == f"Cannot reserve 2 of {sku}: only 1 available"
    assert too_many["inventory"] == {"currentStock": 1, "reservedStock": 0}
    unknown = (await data(api, seed(SEED_CONFIRM, sku, "never-ordered")))["confirmReserve"]
    assert unknown["success"] is False and "never-ordered" in unknown["message"]
    no_product = (await data(api, seed(SEED_RESERVE, "NO-SUCH-SKU")))["reserveStock"]
    assert no_product == {"success": False, "message": "No product with SKU 'NO-SUCH-SKU'", "retriesUsed": 0,
                          "inventory": None}  # fmt: skip
    below_zero = (await data(api, seed(SEED_DECREASE, sku)))["decreaseStock"]
    assert below_zero["success"] is False and below_zero["inventory"] == {"currentStock": 1, "outboundTotal": 0}


async def test_confirm_without_a_price_names_unit_price(api):
    sku = await stocked(api, 5)  # no sell_price
    assert (await data(api, seed(SEED_RESERVE, sku)))["reserveStock"]["success"]
    answer = await gql(api, seed(SEED_CONFIRM, sku))
    assert "unitPrice" in answer["errors"][0]["message"]
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    priced = SEED_CONFIRM.replace('orderId: "order-456"', 'orderId: "order-456"\n    unitPrice: "6.25"')
    assert (await data(api, seed(priced, sku)))["confirmReserve"]["success"]
    assert Decimal((await timeline(api, sku))[-1]["unit_price"]) == Decimal("6.25")


async def test_reconfirming_at_another_price_states_the_sale_that_was_booked(api):
    sku = await stocked(api, 5)
    assert (await data(api, seed(SEED_RESERVE, sku)))["reserveStock"]["success"]
    at = 'orderId: "order-456"\n    unitPrice: "{}"'
    first = await data(api, seed(SEED_CONFIRM.replace('orderId: "order-456"', at.format("4.00")), sku))
    assert first["confirmReserve"]["message"] == f"Confirmed order order-456: sold 2 of {sku} at 4.0000"
    again = SEED_CONFIRM.replace('orderId: "order-456"', at.format("9.00")).replace(
        "success", "success transaction { id unitPrice } reservation { unitPrice }"
    )
    answer = (await data(api, seed(again, sku)))["confirmReserve"]
    assert answer["success"] is True  # unchanged, not a conflict (SPEC 2)
    assert (
        answer["message"] == f"Order order-456 was already confirmed: sold 2 of {sku} at 4.0000; nothing was sold now"
    )
    assert Decimal(answer["transaction"]["unitPrice"]) == Decimal(answer["reservation"]["unitPrice"]) == Decimal("4")
    sales = [r for r in await timeline(api, sku) if r["type"] == "SELL"]
    assert [(r["id"], Decimal(r["unit_price"])) for r in sales] == [(int(answer["transaction"]["id"]), Decimal("4"))]


async def test_cancelling_an_expired_or_cancelled_hold_says_nothing_was_held(api):
    sku = await stocked(api, 5)
    short = SEED_RESERVE.replace('orderId: "order-456"', 'orderId: "order-456"\n    ttlSeconds: 1')
    assert (await data(api, seed(short, sku)))["reserveStock"]["success"]
    await asyncio.sleep(1.2)
    lapsed = (await data(api, seed(SEED_CANCEL, sku)))["cancelReserve"]
    assert lapsed == {"success": True,
                      "message": f"Nothing to cancel: order order-456's reservation of 2 {sku} had already expired "
                                 "and held nothing"}  # fmt: skip
    assert (await data(api, seed(SEED_RESERVE, sku, "order-789")))["reserveStock"]["success"]
    cancelled = (await data(api, seed(SEED_CANCEL, sku, "order-789")))["cancelReserve"]
    assert cancelled["message"] == f"Cancelled order order-789's reservation of 2 {sku}"
    again = (await data(api, seed(SEED_CANCEL, sku, "order-789")))["cancelReserve"]
    assert again["success"] is True
    assert again["message"] == f"Nothing to cancel: order order-789's reservation of 2 {sku} was already cancelled"


async def test_decrease_and_increase_record_an_adjust_with_the_reason_as_note(api):
    sku = await stocked(api, 10)
    decreased = (await data(api, seed(SEED_DECREASE, sku)))["decreaseStock"]
    assert decreased["success"] and decreased["inventory"] == {"currentStock": 5, "outboundTotal": 0}
    increased = (await data(api, seed(SEED_INCREASE, sku)))["increaseStock"]
    assert increased["success"] and increased["inventory"] == {"currentStock": 105, "inboundTotal": 110}
    rows = await timeline(api, sku)
    assert [(r["type"], r["quantity"], r["reason"], r["note"]) for r in rows[-2:]] == [
        ("ADJUST", -5, "loss", "物理盘点损耗"),
        ("ADJUST", 100, "other", "补货入库"),
    ]
    assert (await summary(api, sku))["on_hand"] == 105


@pytest.mark.parametrize(
    ("operation", "argument"),
    [
        ('reserveStock(skuId: "S", quantity: 0, orderId: "o") { success }', "quantity"),
        ('reserveStock(skuId: "bad sku!", quantity: 1, orderId: "o") { success }', "skuId"),
        ('reserveStock(skuId: "S", quantity: 1, orderId: "") { success }', "orderId"),
        ('reserveStock(skuId: "S", quantity: 1, orderId: "o", ttlSeconds: 0) { success }', "ttlSeconds"),
        ('decreaseStock(skuId: "S", quantity: -3, reason: "x") { success }', "quantity"),
        ('increaseStock(skuId: "S", quantity: 3, reason: "x", unitPrice: "-1") { success }', "unitPrice"),
        ('reserveStock(skuId: "S", quantity: "two", orderId: "o") { success }', "quantity"),
        ('confirmReserve(skuId: "S", quantity: 1, orderId: "o", unitPrice: "abc") { success }', "unitPrice"),
        ('updateCheckTime(skus: ["S"], at: "yesterday") { success }', "at"),
    ],
)
async def test_a_bad_argument_is_a_graphql_error_naming_it(api, operation, argument):
    sku = await stocked(api, 5)
    answer = await gql(api, "mutation { " + operation.replace('"S"', f'"{sku}"') + " }")
    assert answer.get("data") is None or all(v is None for v in answer["data"].values())
    assert argument in answer["errors"][0]["message"], answer["errors"]
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert argument in [a["argument"] for a in answer["errors"][0]["extensions"]["arguments"]], answer["errors"]
    assert (await summary(api, sku))[("on_hand")] == 5 and (await summary(api, sku))["reserved"] == 0


@pytest.mark.parametrize(
    ("operation", "variables", "argument"),
    [
        ('($p: Decimal) { confirmReserve(skuId: "S", quantity: 1, orderId: "o", unitPrice: $p) { success } }',
         {"p": "abc"}, "unitPrice"),
        ('($t: DateTime) { updateCheckTime(skus: ["S"], at: $t) { success } }', {"t": "yesterday"}, "at"),
        ('($q: Int!) { reserveStock(skuId: "S", quantity: $q, orderId: "o") { success } }', {"q": "two"}, "quantity"),
    ],
)  # fmt: skip
async def test_a_bad_variable_names_the_argument_it_is_passed_to(api, operation, variables, argument):
    sku = await stocked(api, 5)
    answer = await gql(api, "mutation " + operation.replace('"S"', f'"{sku}"'), variables)
    error = answer["errors"][0]
    assert error["message"].startswith(f"Invalid argument {argument}: Variable '$"), error
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "arguments": [{"argument": argument}]}
    assert (await summary(api, sku))["on_hand"] == 5


async def test_a_viewer_queries_but_cannot_mutate(api, as_role):
    sku = await stocked(api, 10)
    viewer = as_role("viewer")
    assert (await data(viewer, seed(SEED_STATS, sku)))["inventoryStats"]["currentStock"] == 10
    for operation in (SEED_RESERVE, SEED_INCREASE):
        answer = await gql(viewer, seed(operation, sku))
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", answer
        assert "clerk" in answer["errors"][0]["message"] or "manager" in answer["errors"][0]["message"]
    rest = await summary(api, sku)
    assert (rest["on_hand"], rest["reserved"]) == (10, 0)


async def test_the_clerk_rule_applies(api, as_role):
    sku = await stocked(api, 10)
    clerk = as_role("clerk")
    assert (await data(clerk, seed(SEED_RESERVE, sku)))["reserveStock"]["success"]  # a clerk handles reservations
    answer = await gql(clerk, seed(SEED_DECREASE, sku))  # an ADJUST needs a manager, as over REST
    assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "needs the manager role; you are clerk" in answer["errors"][0]["message"]
    record_sale = """mutation($s: String!, $at: String) { recordTransaction(input: {sku: $s, type: "SELL",
        quantity: 1, unitPrice: "9.00", at: $at}) { transaction { type quantity } after { currentStock } } }"""
    sold = await data(clerk, record_sale, {"s": sku})
    assert sold["recordTransaction"] == {"transaction": {"type": "SELL", "quantity": 1}, "after": {"currentStock": 9}}
    backdated = await gql(clerk, record_sale, {"s": sku, "at": "2020-01-01T10:00:00Z"})
    assert backdated["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert (await summary(api, sku))["on_hand"] == 9


async def test_a_browser_session_works_with_its_csrf_token(api, server):
    """The same sessions as the pages: a POST with the session cookie needs its CSRF token."""
    sku = await stocked(api, 10)
    async with httpx.AsyncClient(base_url=server.url) as browser:
        assert (await login(browser, "clerk1")).status_code == 303
        refused = await browser.post("/graphql", json={"query": seed(SEED_RESERVE, sku)})
        assert refused.status_code == 403 and "CSRF" in refused.text
        token = await csrf_of(browser)
        held = await gql(browser, seed(SEED_RESERVE, sku), **{"X-CSRF-Token": token})
        assert held["data"]["reserveStock"]["success"], held
    assert (await summary(api, sku))["reserved"] == 2


async def test_without_credentials_graphql_answers_401(server):
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        r = await anonymous.post("/graphql", json={"query": "{ __schema { types { name } } }"})
        assert r.status_code == 401
        bad = await anonymous.post("/graphql", json={"query": "{ inventorySummary { totalSkus } }"},
                                   headers=bearer("not-a-token"))  # fmt: skip
        assert bad.status_code == 401


async def test_a_keyed_mutation_retried_returns_the_same_answer_and_changes_nothing_more(api):
    sku = await stocked(api, 10)
    keyed = SEED_INCREASE.replace('reason: "补货入库"', 'reason: "补货入库"\n    idempotencyKey: "restock-1"')
    keyed = keyed.replace("success", "success replayed")
    first = (await data(api, seed(keyed, sku)))["increaseStock"]
    second = (await data(api, seed(keyed, sku)))["increaseStock"]
    assert first.pop("replayed") is False and second.pop("replayed") is True
    assert first == second and first["inventory"]["currentStock"] == 110
    assert (await summary(api, sku))["on_hand"] == 110
    assert len(await timeline(api, sku)) == 2

    # The Idempotency-Key header does the same, for a reservation, and a refusal is kept as well.
    reserve = seed(SEED_RESERVE, sku).replace("quantity: 2", "quantity: 111")
    refused = await gql(api, reserve, **{"Idempotency-Key": "too-many-1"})
    await record(api, sku, "BUY", 500, "5.00")  # now it could be had, but the key keeps its refusal
    again = await gql(api, reserve, **{"Idempotency-Key": "too-many-1"})
    assert refused["data"]["reserveStock"]["success"] is False
    assert again["data"]["reserveStock"]["message"] == refused["data"]["reserveStock"]["message"]
    assert (await summary(api, sku))["reserved"] == 0
    other = await gql(api, seed(SEED_RESERVE, sku), **{"Idempotency-Key": "too-many-1"})  # the key, reused
    assert "idempotencyKey" in other["errors"][0]["message"]


async def test_a_storm_of_1000_reservations_across_two_processes_holds_exactly_what_is_available(
    api, server, second_server, tokens
):
    """1,000 units, 700 held through REST: 1,000 GraphQL reserveStock of one unit each, from many
    clients on two processes at once, hold exactly the 300 available."""
    sku = await stocked(api, 1000)
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 700, "order_ref": "big-order"})
    assert r.status_code == 201, r.text
    mutation = """mutation($s: String!, $o: String!) {
        reserveStock(skuId: $s, quantity: 1, orderId: $o) { success message } }"""
    clients = [httpx.AsyncClient(base_url=s.url, timeout=120, headers=bearer(tokens["clerk"]))
               for s in (server, second_server)]  # fmt: skip
    try:
        answers = await asyncio.gather(*(
            data(clients[i % 2], mutation, {"s": sku, "o": f"storm-{i}"}) for i in range(1000)
        ))  # fmt: skip
    finally:
        for client in clients:
            await client.aclose()
    won = [a["reserveStock"] for a in answers if a["reserveStock"]["success"]]
    lost = [a["reserveStock"] for a in answers if not a["reserveStock"]["success"]]
    assert (len(won), len(lost)) == (300, 700)
    assert all(a["message"].startswith(f"Cannot reserve 1 of {sku}: only 0 available") for a in lost)
    rest = await summary(api, sku)
    assert (rest["on_hand"], rest["reserved"], rest["available"]) == (1000, 1000, 0)
    listed = await api.get("/api/reservations", params={"sku": sku, "status": "active"})
    assert len(listed.json()["items"]) == 301


async def test_a_body_graphql_cannot_read_is_a_400_with_a_graphql_error_and_never_a_500(api):
    deep = '{"query": "{ inventorySummary { totalSkus } }", "variables": {"a": ' + "[" * 5000 + "]" * 5000 + "}}"
    for body, why in ((deep, "nested too deeply"), ("{not json", "Unable to parse request body as JSON"),
                      ("null", "must be a JSON object"), ('"text"', "must be a JSON object")):
        r = await api.post("/graphql", content=body.encode(), headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text[:300]
        assert why in r.json()["errors"][0]["message"]
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_a_mutation_refused_after_another_in_one_request_leaves_the_first_ones_answer_in_data(api):
    sku = await stocked(api, 10)
    answer = await gql(api, f"""mutation {{
        a: decreaseStock(skuId: "{sku}", quantity: 1, reason: "x") {{ success }}
        b: decreaseStock(skuId: "{sku}", quantity: -1, reason: "y") {{ success }} }}""")
    assert answer["data"] == {"a": {"success": True}, "b": None}  # what was made is not hidden
    assert [e["path"] for e in answer["errors"]] == [["b"]]
    assert (await summary(api, sku))["on_hand"] == 9


async def test_a_reason_too_long_for_the_note_is_refused_by_name_not_cut(api):
    sku = await stocked(api, 5)
    mutation = "mutation($s: String!, $r: String!) { decreaseStock(skuId: $s, quantity: 1, reason: $r) { success } }"
    answer = await gql(api, mutation, {"s": sku, "r": "x" * 600})
    assert answer["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "reason" in [a["argument"] for a in answer["errors"][0]["extensions"]["arguments"]]
    assert (await summary(api, sku))["on_hand"] == 5


async def test_an_empty_idempotency_key_is_refused_by_name_and_changes_nothing(api):
    sku = await stocked(api, 10)
    keyed = SEED_INCREASE.replace('reason: "补货入库"', 'reason: "补货入库"\n    idempotencyKey: " "')
    answer = await gql(api, seed(keyed, sku))
    assert "idempotencyKey" in answer["errors"][0]["message"] and "is empty" in answer["errors"][0]["message"]
    by_header = await gql(api, seed(SEED_INCREASE, sku), **{"Idempotency-Key": ""})
    assert "is empty" in by_header["errors"][0]["message"]
    assert (await summary(api, sku))["on_hand"] == 10
