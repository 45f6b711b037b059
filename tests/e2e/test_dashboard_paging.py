"""The dashboard at catalogue size in a browser (issue 13): paging, sorting and searching swap the table
(htmx, the URL follows), and the live stream follows the rows shown: a row of page 2 changes live."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.e2e.conftest import screenshot_path
from tests.integration.helpers import record

pytestmark = pytest.mark.e2e
COUNT = 130

ROWS = "() => [...document.querySelectorAll('#products tbody tr[data-sku]')].map(r => r.dataset.sku)"


async def rows(page) -> list[str]:
    return await page.evaluate(ROWS)


async def connected_for(page, skus: list[str]) -> None:
    """The stream was opened (again) for exactly these rows and is connected."""
    await page.wait_for_function(
        """(want) => document.getElementById('products-table').dataset.liveSkus === want
                    && document.querySelector('[data-live]').dataset.liveState === 'connected'""",
        arg=" ".join(skus),
    )


async def test_paging_sorting_and_search_swap_the_table_and_the_stream_follows_the_rows(page, server, api):
    # Letters only: the search below looks for "12" in names and SKUs, and a tag holding "12" (CI drew
    # "a25e12" once) would put it in every SKU.
    tag = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:8])
    category, prefix = f"Paging {tag}", f"PG{tag}"
    lines = ["external_id,sku,product_name,category,low_stock_threshold,type,quantity,unit_price,at"]
    for i in range(COUNT):
        lines.append(f"{prefix}-{i},{prefix}-{i:03d},Paging item {i},{category},0,BUY,{1 + (i * 37) % 100},"
                     f"{1 + i % 9}.50,2026-01-01T09:00:00+00:00")  # fmt: skip
    r = await api.post("/api/import", content="\n".join(lines).encode() + b"\n", headers={"content-type": "text/csv"})
    assert r.status_code == 201, r.text[:1000]

    await page.goto(f"{server.url}/?category={category.replace(' ', '+')}")
    first = [f"{prefix}-{i:03d}" for i in range(50)]
    assert await rows(page) == first
    assert "1–50 of 130" in (await page.locator("nav.pager").text_content() or "")
    await connected_for(page, first)

    # Next page: the table is swapped, the URL says so, the stream follows the new rows.
    await page.get_by_role("link", name="Next →").click()
    second = [f"{prefix}-{i:03d}" for i in range(50, 100)]
    await page.wait_for_function(f"() => ({ROWS})()[0] === '{second[0]}'")
    assert await rows(page) == second
    assert "page=2" in page.url and "category=" in page.url
    await connected_for(page, second)
    # A row that was not on the first page changes live: only the new stream could have told it.
    sku = second[10]
    before = int(await page.locator(f'tr[data-sku="{sku}"] [data-field="on_hand"]').get_attribute("data-raw") or 0)
    await record(api, sku, "BUY", 1000, "2.00")
    cell = f'tr[data-sku="{sku}"] [data-field="on_hand"]'
    await page.wait_for_function(f"""() => document.querySelector('{cell}').dataset.raw === '{before + 1000}'""")
    assert (await page.locator(f'tr[data-sku="{sku}"] [data-field="on_hand"]').text_content()) == f"{before + 1000:,}"

    # Sort by On hand (from page 1), then the other way round.
    await page.locator('#products thead a[data-sort-by="on_hand"]').click()
    await page.wait_for_function("() => document.getElementById('products').dataset.sort === 'on_hand'")
    r = await api.get("/api/products", params={"category": category})
    items = sorted(r.json()["items"], key=lambda p: (p["on_hand"], p["sku"]))
    assert await rows(page) == [p["sku"] for p in items[:50]]
    assert "sort=on_hand" in page.url and "page=" not in page.url
    await page.locator('#products thead a[data-sort-by="on_hand"]').click()
    await page.wait_for_function("() => document.getElementById('products').dataset.dir === 'desc'")
    assert await rows(page) == [p["sku"] for p in reversed(items)][:50]
    assert await page.locator("#products thead th[aria-sort]").get_attribute("aria-sort") == "descending"
    assert sku == (await rows(page))[0]  # the one just bought is the most on hand
    await connected_for(page, await rows(page))

    # Search, every word in the name or the SKU: the category and the sort are kept.
    await page.get_by_label("Search").fill("item 12")
    await page.wait_for_function(
        "() => [...document.querySelectorAll('#products tbody tr[data-sku]')].length === 12"
    )  # 12, 112, 120..129
    found = await rows(page)
    assert set(found) == {f"{prefix}-012", f"{prefix}-112", *(f"{prefix}-{i}" for i in range(120, 130))}
    assert re.search(r"q=item\+12|q=item%2012", page.url) and "sort=on_hand" in page.url
    assert "12 products" in (await page.locator("[data-totals]").text_content() or "")
    await connected_for(page, found)
    await record(api, f"{prefix}-125", "BUY", 5, "1.00")
    target = f'tr[data-sku="{prefix}-125"] [data-field="on_hand"]'
    was = int(await page.locator(target).get_attribute("data-raw") or 0)
    await page.wait_for_function(f"""() => document.querySelector('{target}').dataset.raw !== '{was}'""")
    await page.screenshot(path=screenshot_path("dashboard-search-sorted"))

    # Back: the previous table (htmx history), its stream with it.
    await page.go_back()
    await page.wait_for_function("() => !location.search.includes('q=')")
    await page.wait_for_function(
        "() => document.getElementById('products-table').dataset.liveSkus.split(' ').length === 50"
    )
    await connected_for(page, await rows(page))
