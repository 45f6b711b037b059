"""GraphQL `transactions` pages by key (`at`, `seq`), as the REST timeline does: every row once, newest
first, even when a row is backdated between two pages; an offset cursor given before still answers."""

from __future__ import annotations

import base64

import pytest

from tests.integration.graphql_client import data, gql
from tests.integration.helpers import make_product, record, timeline

pytestmark = pytest.mark.integration

PAGE = """query($s: String!, $after: String) { transactions(sku: $s, first: 3, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"""


async def pages(api, sku: str, after: str | None = None) -> list[list[int]]:
    seen = []
    while True:
        page = (await data(api, PAGE, {"s": sku, "after": after}))["transactions"]
        seen.append([e["node"]["id"] for e in page["edges"]])
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]


async def test_every_row_once_newest_first_read_by_key(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-05T10:00:00Z")
    for day in range(1, 8):  # two on one moment: their order is their seq
        await record(api, sku, "SELL", 1, "3.00", at=f"2026-01-{10 + day // 2:02d}T10:00:00Z")
    newest_first = [row["id"] for row in reversed(await timeline(api, sku))]

    walked = await pages(api, sku)
    assert [len(p) for p in walked] == [3, 3, 2]
    assert [i for p in walked for i in p] == newest_first

    # A row backdated between two pages lands before the cursor: the next pages neither repeat nor skip.
    first = (await data(api, PAGE, {"s": sku, "after": None}))["transactions"]
    await record(api, sku, "SELL", 1, "3.00", at="2026-01-06T10:00:00Z")
    rest = await pages(api, sku, first["pageInfo"]["endCursor"])
    older = [row["id"] for row in reversed(await timeline(api, sku))][3:]
    assert [i for p in rest for i in p] == older


async def test_an_offset_cursor_still_answers_and_a_made_up_one_is_refused(api):
    sku = await make_product(api)
    for n in range(5):
        await record(api, sku, "BUY", 1, "2.00", at=f"2026-02-0{n + 1}T10:00:00Z")
    newest_first = [row["id"] for row in reversed(await timeline(api, sku))]
    by_offset = base64.b64encode(b"offset:2").decode()  # a cursor this API gave before: after the third row
    page = (await data(api, PAGE, {"s": sku, "after": by_offset}))["transactions"]
    assert [e["node"]["id"] for e in page["edges"]] == newest_first[3:]
    assert not page["pageInfo"]["hasNextPage"]

    for bad in ("not-a-cursor", base64.b64encode(b"key:12x_3").decode()):
        answer = await gql(api, PAGE, {"s": sku, "after": bad})
        assert "after" in answer["errors"][0]["message"], answer
