"""The import page as a manager meets it: what the file needs, the smallest file that works, each bad
row named with its value, and a progress bar that counts rows."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.e2e.conftest import screenshot_path
from tests.integration.helpers import new_sku, summary

pytestmark = pytest.mark.e2e
HEADER = "external_id,sku,product_name,type,quantity,unit_price,at\n"


async def test_the_page_lists_the_columns_and_the_smallest_file_which_imports(api, server, page, tmp_path):
    await page.goto(f"{server.url}/import")
    guide = page.locator("dl.columns-needed")
    needed = [t.strip() for t in await guide.locator("dt:has(strong) code").all_text_contents()]
    assert needed == ["external_id", "sku", "type", "quantity", "unit_price", "at"]
    assert await guide.locator("dt code", has_text="reason").count() == 1
    assert "ADJUST only" in await guide.locator("div", has=page.locator("code", has_text="reason")).inner_text()

    shown = await page.locator("pre.smallest-file").text_content()
    served = (await api.get("/import/example.csv")).text
    assert served.replace("\r\n", "\n") == shown
    assert shown.count("\n") == 2  # a header and one row: nothing more is needed

    sku = new_sku("SMALL")  # the same file, for a product of its own
    path = tmp_path / "smallest.csv"
    path.write_text(shown.replace("TEA-1", sku).replace("order-1001", f"x-{sku}"))
    await page.get_by_label("CSV file").set_input_files(str(path))
    await page.get_by_role("button", name="Import").click()
    await page.get_by_text("Imported 1 transactions").wait_for()
    assert (await summary(api, sku))["on_hand"] == 40
    await page.screenshot(path=screenshot_path("import"), full_page=True)


async def test_each_bad_row_is_named_with_its_value(api, server, page, tmp_path):
    sku = new_sku("BAD")
    path = tmp_path / "bad.csv"
    path.write_text(HEADER
                    + f"b1-{sku},{sku},Bad rows,BUY,12,2.50,2026-11-20 09:00\n"
                    + f"b2-{sku},{sku},,SELL,three,4.00,2026-11-21 09:00\n"
                    + f"b3-{sku},{sku},,BUY,2,-1.5,2026-11-22 09:00\n"
                    + f"b4-{sku},{sku},,SELL,1,4.00,23/11/2026\n")  # fmt: skip
    await page.goto(f"{server.url}/import")
    await page.get_by_label("CSV file").set_input_files(str(path))
    await page.get_by_role("button", name="Import").click()
    problems = page.get_by_role("alert")
    await problems.get_by_text("3 bad row(s), nothing imported").wait_for()
    rows = problems.locator("table.bad-rows tbody tr")
    seen = {}
    for i in range(await rows.count()):
        cells = [re.sub(r"\s+", " ", c).strip() for c in await rows.nth(i).locator("td").all_inner_texts()]
        seen[cells[2]] = cells
    assert seen["quantity"][:4] == ["line 3", sku, "quantity", "three"]
    assert seen["unit_price"][:4] == ["line 4", sku, "unit_price", "-1.5"]
    assert seen["at"][:4] == ["line 5", sku, "at", "23/11/2026"]
    assert (await api.get(f"/api/products/{sku}")).status_code == 404  # nothing imported
    await page.screenshot(path=screenshot_path("import-bad-rows"), full_page=True)


async def test_the_progress_bar_counts_rows(api, server):
    """Two products, three rows and one: the bar counts 4 rows (by products it counted 2)."""
    a, b = sorted([new_sku("PA"), new_sku("PB")])
    body = HEADER + "".join(f"r{i}-{a},{a},Row import A,BUY,1,1.00,2026-01-0{i + 1} 09:00\n" for i in range(3)) + (
        f"r0-{b},{b},Row import B,BUY,5,1.00,2026-01-01 09:00\n")  # fmt: skip
    token = new_sku("tok")
    bars: list[str] = []

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=api.headers) as client, client.stream(
            "GET", f"/import/progress/{token}") as stream:  # fmt: skip
            kind = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:") and kind == "progress":
                    bars.append(line.removeprefix("data:"))

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    done = await api.post("/import", data={"token": token}, files={"file": ("rows.csv", body, "text/csv")},
                          headers={"HX-Request": "true"})  # fmt: skip
    assert done.status_code == 200 and "Imported 4 transactions" in done.text
    await asyncio.wait_for(listener, 10)
    steps = [(int(re.search(r'value="(\d+)"', x).group(1)), int(re.search(r'max="(\d+)"', x).group(1)))
             for x in bars if "Finished" not in x]  # fmt: skip
    # However often the import reports (per product, per part), the bar counts the file's 4 rows.
    assert steps and all(top == 4 for _, top in steps), bars
    assert [done for done, _ in steps] == sorted(done for done, _ in steps) and steps[-1][0] == 4
    assert "4 of 4 rows (2 of 2 products)" in [x for x in bars if "Finished" not in x][-1]
