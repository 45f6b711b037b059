"""/graphql's batch operations and Stockroom's own types: inventoriesBySkus answered by one SQL
statement whatever the number of SKUs (a DataLoader), threshold updates, reserve and damage lists,
cursor paging of products and transactions, dry runs, reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from app.persistence.database import Database
from app.services.products import ProductService
from app.web.graphql.context import GraphQLContext
from app.web.graphql.loaders import ProductLoader
from app.web.graphql.schema import schema
from tests.integration.graphql_client import data, gql
from tests.integration.helpers import make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.integration

BY_SKUS = "query($s: [String!]!) { inventoriesBySkus(skus: $s) { skuId currentStock availableStock } }"


class CountingDatabase(Database):
    """A Database that counts the SQL statements sent on its pooled connections."""

    statements = 0

    def _count(self, _query: Any) -> None:
        self.statements += 1

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with super()._connection() as conn:
            conn.add_query_logger(self._count)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self._count)


async def many_products(api, count: int, prefix: str) -> list[str]:
    skus = [f"{prefix}-{i:04d}" for i in range(count)]
    for start in range(0, count, 50):
        await asyncio.gather(*(make_product(api, sku=s) for s in skus[start : start + 50]))
    return skus


async def test_inventories_by_skus_is_one_statement_for_500_skus(api, database_url):
    skus = await many_products(api, 500, new_sku("DL"))
    await record(api, skus[7], "BUY", 12, "1.00")
    db = CountingDatabase(database_url, pool_size=2)
    async with db.opened():
        for asked in (skus[:5], skus, skus + ["NO-SUCH-SKU"]):
            db.statements = 0
            context = GraphQLContext(services=None, loader=ProductLoader(ProductService(db)))
            result = await schema.execute(BY_SKUS, variable_values={"s": asked}, context_value=context)
            assert result.errors is None, result.errors
            assert db.statements == 1, (len(asked), db.statements)
            found = result.data["inventoriesBySkus"]
            assert [f and f["skuId"] for f in found] == [s if s != "NO-SUCH-SKU" else None for s in asked]
    # And over HTTP, in the order asked, with the REST figures.
    over_http = (await data(api, BY_SKUS, {"s": list(reversed(skus))}))["inventoriesBySkus"]
    assert [i["skuId"] for i in over_http] == list(reversed(skus))
    assert over_http[-8] == {"skuId": skus[7], "currentStock": 12, "availableStock": 12}


async def test_batch_update_warning_threshold(api):
    a, b = await make_product(api), await make_product(api)
    mutation = """mutation($u: [WarningThresholdUpdate!]!) {
        batchUpdateWarningThreshold(updates: $u) { success message inventory { skuId warningThreshold } } }"""
    updates = [{"skuId": a, "warningThreshold": 15}, {"skuId": "NO-SUCH-SKU", "warningThreshold": 3},
               {"skuId": b, "warningThreshold": 4}]  # fmt: skip
    answers = (await data(api, mutation, {"u": updates}))["batchUpdateWarningThreshold"]
    assert [x["success"] for x in answers] == [True, False, True]
    assert answers[0]["inventory"] == {"skuId": a, "warningThreshold": 15}
    assert (await summary(api, a))["low_stock_threshold"] == 15
    assert (await summary(api, b))["low_stock_threshold"] == 4
    bad = await gql(api, mutation, {"u": [{"skuId": a, "warningThreshold": 9}, {"skuId": b, "warningThreshold": -3}]})
    assert bad["data"] == {"batchUpdateWarningThreshold": None}
    assert "updates[1].warningThreshold" in bad["errors"][0]["message"]
    assert [x["argument"] for x in bad["errors"][0]["extensions"]["arguments"]] == ["updates[1].warningThreshold"]
    assert (await summary(api, a))["low_stock_threshold"] == 15  # the good update before it was not made either


async def test_inventories_with_reserve_and_with_damage(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 20, "2.00")
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 3, "order_ref": "w-1"})
    assert r.status_code == 201
    await record(api, sku, "ADJUST", -2, reason="damage")
    held = (await data(api, "{ inventoriesWithReserve { skuId reservedStock } }"))["inventoriesWithReserve"]
    assert {"skuId": sku, "reservedStock": 3} in held and all(i["reservedStock"] > 0 for i in held)
    damaged = await data(api, "{ inventoriesWithDamage(days: 7) { skuId damagedUnits damageCount days } }")
    assert {"skuId": sku, "damagedUnits": 2, "damageCount": 2, "days": 7} in damaged["inventoriesWithDamage"]


async def test_products_are_paged_by_cursor_and_sorted(api):
    category = f"cat-{new_sku()}"
    skus = [await make_product(api, category=category) for _ in range(5)]
    for units, sku in zip((5, 1, 4, 2, 3), skus, strict=True):
        await record(api, sku, "BUY", units, "1.00")
    query = """query($c: String, $after: String) {
        products(filter: {category: $c}, sort: STOCK, descending: true, first: 2, after: $after) {
          totalCount edges { cursor node { skuId currentStock } } pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        page = (await data(api, query, {"c": category, "after": after}))["products"]
        assert page["totalCount"] == 5
        seen += [e["node"]["currentStock"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [5, 4, 3, 2, 1]
    bad = await gql(api, query, {"c": category, "after": "not-a-cursor"})
    assert "after" in bad["errors"][0]["message"]


async def test_transactions_with_running_figures_and_dry_runs(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00")
    await record(api, sku, "BUY", 10, "4.00")
    page = (await data(api, """query($s: String!) { transactions(sku: $s, first: 1) {
        totalCount edges { node { id type stockAfter averageCostAfter } } pageInfo { hasNextPage endCursor } } }""",
                       {"s": sku}))["transactions"]  # fmt: skip
    assert page["totalCount"] == 2 and page["pageInfo"]["hasNextPage"]
    newest = page["edges"][0]["node"]
    assert (newest["type"], newest["stockAfter"], Decimal(newest["averageCostAfter"])) == ("BUY", 20, Decimal(3))

    sell = """mutation($s: String!, $dry: Boolean!) { recordTransaction(input: {sku: $s, type: "SELL", quantity: 4,
        unitPrice: "5.00"}, dryRun: $dry) { dryRun transaction { realizedPl } before { currentStock }
        after { currentStock realizedPl } } }"""
    preview = (await data(api, sell, {"s": sku, "dry": True}))["recordTransaction"]
    assert preview == {"dryRun": True, "transaction": {"realizedPl": "8.00"}, "before": {"currentStock": 20},
                       "after": {"currentStock": 16, "realizedPl": "8.00"}}  # fmt: skip
    assert (await summary(api, sku))["on_hand"] == 20
    done = (await data(api, sell, {"s": sku, "dry": False}))["recordTransaction"]
    assert done["after"]["currentStock"] == 16 and (await summary(api, sku))["on_hand"] == 16

    sale_id = (await timeline(api, sku))[-1]["id"]
    edit = """mutation($id: Int!, $dry: Boolean!) { editTransaction(id: $id, patch: {quantity: 6}, dryRun: $dry) {
        dryRun after { currentStock } } }"""
    assert (await data(api, edit, {"id": sale_id, "dry": True}))["editTransaction"]["after"]["currentStock"] == 14
    assert (await summary(api, sku))["on_hand"] == 16
    assert (await data(api, edit, {"id": sale_id, "dry": False}))["editTransaction"]["after"]["currentStock"] == 14
    delete = """mutation($id: Int!, $dry: Boolean!) {
        deleteTransaction(id: $id, dryRun: $dry) { after { currentStock } } }"""
    assert (await data(api, delete, {"id": sale_id, "dry": True}))["deleteTransaction"]["after"]["currentStock"] == 20
    assert (await summary(api, sku))["on_hand"] == 14
    assert (await data(api, delete, {"id": sale_id, "dry": False}))["deleteTransaction"]["after"]["currentStock"] == 20
    assert (await summary(api, sku))["on_hand"] == 20


async def test_every_report_is_the_rest_report(api):
    for name in ("summary", "low-stock", "by-brand", "valuation"):
        answer = (await data(api, "query($n: String!) { report(name: $n) }", {"n": name}))["report"]
        rest = (await api.get(f"/api/reports/{name}")).json()
        if name == "valuation":
            answer.pop("at"), rest.pop("at")
        assert answer == rest, name
    unknown = await gql(api, '{ report(name: "nope") }')
    assert "name" in unknown["errors"][0]["message"]


async def test_update_check_time_records_a_count_of_what_is_on_hand(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00")
    mutation = """mutation($s: [String!]!, $at: DateTime) { updateCheckTime(skus: $s, at: $at) {
        success inventory { currentStock lastCheckTime averageCost } } }"""
    (checked, missing) = (await data(api, mutation, {"s": [sku, "NO-SUCH-SKU"]}))["updateCheckTime"]
    assert checked["success"] and not missing["success"]
    assert checked["inventory"]["currentStock"] == 10 and checked["inventory"]["lastCheckTime"] is not None
    rest = await summary(api, sku)
    assert (rest["on_hand"], rest["average_cost"]) == (10, "2.000000") and rest["last_counted_at"] is not None
    last = (await timeline(api, sku))[-1]
    assert (last["type"], last["quantity"], last["stock_after"]) == ("COUNT", 10, 10)
    keyed = mutation.replace("at: $at)", 'at: $at, idempotencyKey: "check-1")').replace("success", "success replayed")
    first = (await data(api, keyed, {"s": [sku]}))["updateCheckTime"]
    again = (await data(api, keyed, {"s": [sku]}))["updateCheckTime"]
    assert first[0].pop("replayed") is False and again[0].pop("replayed") is True and first == again
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY", "COUNT", "COUNT"]
    past = await gql(api, mutation, {"s": [sku], "at": "2020-01-01T00:00:00+00:00"})
    assert "at" in past["errors"][0]["extensions"]["arguments"][0]["argument"]


async def test_keyed_edit_and_delete_retried_answer_the_same_and_change_nothing_more(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00")
    await record(api, sku, "SELL", 3, "5.00")
    sale_id = (await timeline(api, sku))[-1]["id"]
    edit = """mutation($id: Int!, $q: Int!) { editTransaction(id: $id, patch: {quantity: $q}, idempotencyKey: "e-1") {
        replayed transaction { quantity } after { currentStock } } }"""
    first = (await data(api, edit, {"id": sale_id, "q": 4}))["editTransaction"]
    again = (await data(api, edit, {"id": sale_id, "q": 4}))["editTransaction"]
    assert (first.pop("replayed"), again.pop("replayed")) == (False, True) and first == again
    assert first == {"transaction": {"quantity": 4}, "after": {"currentStock": 6}}
    other = await gql(api, edit, {"id": sale_id, "q": 5})  # the key with another patch
    assert "idempotencyKey" in other["errors"][0]["message"]
    delete = """mutation($id: Int!, $k: String) { deleteTransaction(id: $id, idempotencyKey: $k) {
        replayed after { currentStock } } }"""
    gone = (await data(api, delete, {"id": sale_id, "k": "d-1"}))["deleteTransaction"]
    repeat = (await data(api, delete, {"id": sale_id, "k": "d-1"}))["deleteTransaction"]
    assert gone == {"replayed": False, "after": {"currentStock": 10}} and repeat["replayed"] is True
    unkeyed = await gql(api, delete, {"id": sale_id})
    assert unkeyed["errors"][0]["extensions"]["arguments"][0]["argument"] == "id"
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY"] and (await summary(api, sku))["on_hand"] == 10
