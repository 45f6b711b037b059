"""The self-check at catalogue size (issue 13): a full check runs in the background a piece at a time
with progress and is kept as the last full check (when it ran, what it found); one product is
checked at once; `inventory check` does the same from the shell."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from app.persistence.database import Database
from app.services.selfcheck import PIECE, CheckProgress, SelfCheck
from tests.conftest import bearer, server_on_a_cluster_of_its_own

pytestmark = pytest.mark.integration

PRODUCTS = 2 * PIECE + 200  # three pieces
HEADER = "external_id,sku,product_name,type,quantity,unit_price,at\n"


@pytest.fixture(scope="module")
def checked_server() -> Iterator[tuple[str, str, str]]:
    """A database of its own: this test breaks a product's figures on purpose."""
    with server_on_a_cluster_of_its_own("srs-", "check-admin") as running:
        yield running


@pytest.fixture
async def api(checked_server: tuple[str, str, str]) -> AsyncIterator[httpx.AsyncClient]:
    _, base, token = checked_server
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=bearer(token)) as client:
        yield client


def catalogue(products: int) -> str:
    rows = [HEADER]
    rows += [f"b{i},SC-{i},Product {i},BUY,{10 + i % 7},{1 + i % 5}.25,2025-03-01T08:00:00Z\n" for i in range(products)]
    rows += [f"s{i},SC-{i},,SELL,{1 + i % 4},9.99,2025-03-02T08:00:00Z\n" for i in range(products)]
    return "".join(rows)


async def wait_for_a_check_after(api: httpx.AsyncClient, moment: str | None) -> dict:
    for _ in range(600):
        body = (await api.get("/api/reports/anomalies")).json()
        last = body["last_full_check"]
        if last and (moment is None or last["finished_at"] > moment) and body["running"] is None:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError("the full check did not finish within a minute")


async def test_a_full_check_runs_in_the_background_in_pieces_and_is_kept_with_when_and_what(api, checked_server):
    url = checked_server[0]
    r = await api.post("/api/import", content=catalogue(PRODUCTS).encode())
    assert r.status_code == 201, r.text
    nothing = (await api.get("/api/reports/anomalies")).json()
    assert nothing["last_full_check"] is None and nothing["items"] == [] and nothing["checked_at"] is None

    # In this process: the progress arrives a piece at a time, and the outcome is kept.
    steps: list[tuple[int, int]] = []
    async with Database(url, pool_size=2).opened() as db:

        def seen(step: CheckProgress) -> None:
            steps.append((step.products_done, step.rows_done))

        outcome = await SelfCheck(db).full(seen)
    assert [done for done, _ in steps] == [PIECE, 2 * PIECE, PRODUCTS]
    assert steps[-1][1] == 2 * PRODUCTS and outcome.anomalies == 0 and outcome.rows == 2 * PRODUCTS
    kept = (await api.get("/api/reports/anomalies")).json()
    assert kept["last_full_check"]["products"] == PRODUCTS and kept["checked_at"] == outcome.finished_at

    # A product whose stored figure is wrong: the per-product check answers at once, the report
    # keeps saying what the last full check found until another runs (in the background: 202).
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("UPDATE product SET on_hand = on_hand + 1 WHERE sku = 'SC-777'")
        one = (await api.get("/api/reports/anomalies", params={"sku": "SC-777"})).json()
        assert one["scope"] == "product" and one["items"][0]["sku"] == "SC-777"
        assert "differ from the replay" in one["items"][0]["problems"][0]
        assert (await api.get("/api/reports/anomalies", params={"sku": "SC-1"})).json()["items"] == []
        assert (await api.get("/api/reports/anomalies", params={"sku": "NOPE"})).status_code == 404
        assert (await api.get("/api/reports/anomalies")).json()["items"] == []  # the last full check's
        started = await api.post("/api/reports/anomalies")
        assert started.status_code == 202, started.text
        after = await wait_for_a_check_after(api, outcome.finished_at)
        assert [i["sku"] for i in after["items"]] == ["SC-777"] and after["last_full_check"]["anomalies"] == 1
        graphql = (await api.post("/graphql", json={"query": "{ anomalousInventories { skuId problems } }"})).json()
        assert [(a["skuId"], a["problems"]) for a in graphql["data"]["anomalousInventories"]] == [
            ("SC-777", after["items"][0]["problems"])
        ]  # GraphQL answers what the last full check found, as REST does
        as_csv = await api.get("/api/reports/anomalies", params={"format": "csv"})
        assert "SC-777" in as_csv.text
    finally:
        await conn.execute("UPDATE product SET on_hand = on_hand - 1 WHERE sku = 'SC-777'")
        await conn.close()
    done = (await api.post("/api/reports/anomalies", params={"wait": "true"})).json()
    assert done["items"] == [] and done["last_full_check"]["products"] == PRODUCTS
    page = (await api.get("/reports/anomalies")).text
    assert "Last full check" in page and f"{PRODUCTS:,} products" in page
