"""GraphiQL at /graphql in a real browser, signed in: it loads from the app's own files under its
Content-Security-Policy (any console error fails the test) and runs a query with the session."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.e2e


async def test_graphiql_runs_a_query_for_a_signed_in_user(api, server, page):
    sku = await make_product(api)
    await record(api, sku, "BUY", 7, "2.00")
    query = f'{{ inventoryDetail(skuId: "{sku}") {{ skuId currentStock }} }}'
    await page.goto(f"{server.url}/graphql?q={quote(query)}")
    await page.locator(".graphiql-execute-button").click()
    result = page.locator(".graphiql-response")
    await result.get_by_text('"currentStock": 7').wait_for(timeout=15_000)
