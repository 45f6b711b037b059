"""A product's timeline is paged by key (`at`, `seq`), never by OFFSET (issue 13): walking every page
by its cursor gives every row exactly once, in order, on the API and on the product page."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration

ROWS = 260  # 6 pages of 50 on the product page; many rows share a time, so `seq` breaks ties
START = datetime(2026, 1, 1, 9, tzinfo=UTC)


async def product_with_long_history(api, db) -> tuple[str, list[int]]:
    """A product with ROWS transactions at 40 distinct times, recorded out of order; and its row ids in
    timeline order, as SQL orders them."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10_000, "1.00", at=START.isoformat())
    for first in range(1, ROWS, 20):
        batch = range(first, min(first + 20, ROWS))
        at = {i: (START + timedelta(minutes=i * 7 % 40 + 1)).isoformat() for i in batch}
        await asyncio.gather(*(record(api, sku, "SELL" if i % 3 else "BUY", 1, "2.00", at=at[i]) for i in batch))
    ids = await db.fetch(
        "SELECT t.id FROM stock_transaction t JOIN product p ON p.id = t.product WHERE p.sku = $1 ORDER BY t.at, t.seq",
        sku,
    )
    return sku, [r["id"] for r in ids]


async def test_walking_the_api_listing_by_cursor_gives_every_row_once_in_order(api, db):
    sku, in_order = await product_with_long_history(api, db)
    seen: list[int] = []
    after = None
    pages = 0
    while True:
        r = await api.get(
            f"/api/products/{sku}/transactions", params={"limit": 37, **({"after": after} if after else {})}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] == ROWS
        seen += [item["id"] for item in body["items"]]
        pages += 1
        after = body["next"]
        if after is None:
            break
    assert seen == in_order and pages == -(-ROWS // 37)
    # The old OFFSET paging still answers (clients written before cursors), and agrees.
    by_offset = (await api.get(f"/api/products/{sku}/transactions", params={"limit": 37, "offset": 74})).json()
    assert [i["id"] for i in by_offset["items"]] == in_order[74:111] and by_offset["next"]
    for bad in ({"after": "yesterday"}, {"after": "1_2", "offset": 3}):
        refused = await api.get(f"/api/products/{sku}/transactions", params=bad)
        assert refused.status_code == 400 and next(iter(bad.keys() - {"after"}), "after") in refused.text


def rows_and_links(page: str) -> tuple[list[int], dict[str, str]]:
    ids = [int(i) for i in re.findall(r'<tr[^>]* id="tx-(\d+)"', page)]
    pager = page.split('aria-label="Timeline pages"', 1)[1].split("</nav>", 1)[0] if "Timeline pages" in page else ""
    links = {name: html.unescape(href) for href, name in re.findall(r'<a href="([^"]+)">(Newer|Older)</a>', pager)}
    return ids, links


async def test_walking_the_product_page_older_then_newer_gives_every_row_once_in_order(api, db):
    sku, in_order = await product_with_long_history(api, db)
    newest_first = in_order[::-1]
    seen: list[int] = []
    url = f"/products/{sku}"
    trail = []
    while True:
        page = (await api.get(url)).text
        ids, links = rows_and_links(page)
        assert len(ids) == 50 or "Older" not in links
        trail.append((url, ids))
        seen += ids
        if "Older" not in links:
            break
        assert "before=" in links["Older"] and "page_no=" in links["Older"]
        url = links["Older"]
    assert seen == newest_first
    assert f"page {len(trail)} of {len(trail)}" in page
    # Back by the Newer links: the same pages, the first of them page 1 without a cursor.
    for _, expected_ids in reversed(trail[:-1]):
        url = links["Newer"]
        ids, links = rows_and_links((await api.get(url)).text)
        assert ids == expected_ids
    assert url == f"/products/{sku}"
    # A bare page number (a bookmark) still shows that page; nonsense cursors fall back to it.
    third = (await api.get(f"/products/{sku}", params={"page_no": 3, "before": "nonsense"})).text
    assert rows_and_links(third)[0] == newest_first[100:150]
