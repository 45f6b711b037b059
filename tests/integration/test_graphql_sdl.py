"""docs/schema.graphql is the running schema's SDL, the server serves it (GraphiQL to signed-in users),
and its limits against abuse hold."""

from __future__ import annotations

import httpx
import pytest

from app.web.graphql.sdl import SDL_FILE, sdl
from tests.integration.graphql_client import data

pytestmark = pytest.mark.integration


def test_the_checked_in_sdl_is_the_schema():
    assert SDL_FILE.read_text(encoding="utf-8") == sdl(), "run `python -m app.web.graphql.sdl` and commit the file"


async def test_the_server_serves_every_operation_of_the_sdl(api):
    found = await data(api, "{ __schema { queryType { fields { name } } mutationType { fields { name } } } }")
    queries = {f["name"] for f in found["__schema"]["queryType"]["fields"]}
    mutations = {f["name"] for f in found["__schema"]["mutationType"]["fields"]}
    for name in queries | mutations:
        assert f"  {name}" in SDL_FILE.read_text(encoding="utf-8"), name
    assert {"inventoryDetail", "inventoryStats", "lowStockInventories", "outOfStockInventories",
            "inventoriesNeedingCheck", "inventorySummary", "fastMovingInventories", "slowMovingInventories",
            "inventoryByCategory", "anomalousInventories", "inventoriesBySkus", "inventoriesWithReserve",
            "inventoriesWithDamage"} <= queries  # fmt: skip
    assert {"reserveStock", "confirmReserve", "cancelReserve", "decreaseStock", "increaseStock",
            "batchUpdateWarningThreshold", "updateCheckTime"} <= mutations  # fmt: skip


async def test_graphiql_is_served_to_a_signed_in_user(api, server):

    page = await api.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/graphql", headers={"Accept": "application/json"})).status_code == 401


async def test_the_limits_against_abuse(api):
    batched = await api.post("/graphql", json=[{"query": "{ inventorySummary { totalSkus } }"}] * 2)
    assert batched.status_code == 400  # several operations in one request are not accepted
    aliases = "{ " + " ".join(f"a{i}: inventorySummary {{ totalSkus }}" for i in range(51)) + " }"
    r = (await api.post("/graphql", json={"query": aliases})).json()
    assert "aliases" in r["errors"][0]["message"]
    too_long = "{ " + "inventorySummary { totalSkus } " * 5000 + "}"
    r = (await api.post("/graphql", json={"query": too_long})).json()
    assert "token" in r["errors"][0]["message"].lower()
    many = await api.post("/graphql", json={"query": "query($s: [String!]!) { inventoriesBySkus(skus: $s) { skuId } }",
                                            "variables": {"s": [f"S-{i}" for i in range(5001)]}})  # fmt: skip
    assert "skus" in many.json()["errors"][0]["message"]
