"""What a clerk sees in a real browser."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import screenshot_path
from tests.integration.helpers import make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.e2e


async def test_confirming_a_reservation_updates_its_row_in_place(api, server, page):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "web-42"})
    held = r.json()
    await page.goto(f"{server.url}/reservations?sku={sku}")
    await page.evaluate("window.sameDocument = true")
    row = page.locator(f"#reservation-{held['id']}")
    await row.get_by_placeholder("unit price").fill("6.50")
    await row.get_by_role("button", name="Confirm").click()
    await page.locator(f"#reservation-{held['id']} .badge.confirmed").wait_for()
    assert await page.evaluate("window.sameDocument") is True  # swapped in place, no reload
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "SELL"]
    await page.screenshot(path=screenshot_path("reservations"), full_page=True)


async def test_importing_shows_progress_and_the_result(api, server, page, tmp_path):
    sku = new_sku("E2E")
    path = tmp_path / "import.csv"
    path.write_text(
        "external_id,sku,product_name,type,quantity,unit_price,at\n"
        + "".join(f"e{i}-{sku},{sku}-{i},Browser import {i},BUY,2,1.25,2026-01-01T09:00:00+00:00\n" for i in range(5))
    )
    await page.goto(f"{server.url}/import")
    await page.get_by_label("CSV file").set_input_files(str(path))
    await page.get_by_role("button", name="Import").click()
    await page.get_by_text("Imported 5 transactions").wait_for()
    assert await page.locator("#import-progress progress").get_attribute("max") in ("1", "5")
    assert (await summary(api, f"{sku}-3"))["on_hand"] == 2
    await page.screenshot(path=screenshot_path("import"), full_page=True)


async def test_a_hostile_product_name_stays_text_everywhere(api, server, page):
    sku = await make_product(api, name="<img src=x onerror=alert(1)>", category="<script>alert(2)</script>")
    await record(api, sku, "BUY", 1, "1.00")
    for path in (f"/?q={sku}", "/reports/by-category", "/reports/out-of-stock", f"/reservations?sku={sku}"):
        await page.goto(f"{server.url}{path}")
    await page.goto(f"{server.url}/?q={sku}")
    assert await page.get_by_text("<img src=x onerror=alert(1)>").count() == 1
    await record(api, sku, "SELL", 1, "2.00")  # a live update and an alert reach the open page
    await page.locator(f'[data-alert-sku="{sku}"]').wait_for()
    await page.goto(f"{server.url}/products/{sku}")
    assert await page.get_by_role("heading", name="<img src=x onerror=alert(1)>").count() == 1
    assert page.dialogs == []  # type: ignore[attr-defined]


# Phone width: every page, in tests/e2e/test_phone_width.py.
