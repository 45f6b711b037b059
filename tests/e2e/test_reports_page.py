"""The reports as a manager reads them: headings in words, a period to choose, charts drawn on the server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.e2e.conftest import screenshot_path
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.e2e


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


async def headings(page) -> list[str]:
    return [t.strip() for t in await page.locator("main table thead th").all_text_contents()]


async def test_every_report_has_readable_headings(api, server, page):
    sku = await make_product(api, category="Tea", brand="Leafy", overstock_threshold=1)
    await record(api, sku, "BUY", 5, "2.00")
    expected = {
        "low-stock": ["SKU", "Name", "On hand", "Reserved", "Available", "Avg cost", "Value", "Status"],
        "overstock": ["SKU", "Name", "On hand", "Reserved", "Available", "Avg cost", "Value", "Status",
                      "Above threshold"],
        "needs-count": ["SKU", "Name", "On hand", "Reserved", "Available", "Avg cost", "Value", "Status",
                        "Days since count"],
        "movers": ["SKU", "Name", "On hand", "Reserved", "Available", "Avg cost", "Value", "Status", "Sold in 30 d"],
        "by-category": ["Category", "Products", "On hand", "Available", "Value", "Revenue", "Cost of goods sold",
                        "Realized P/L", "Write-off"],
        "anomalies": ["SKU", "Problems"],
    }  # fmt: skip
    for name, columns in expected.items():
        await page.goto(f"{server.url}/reports/{name}")
        assert await headings(page) == columns, name
    await page.goto(f"{server.url}/reports/summary")
    rows = [t.strip() for t in await page.locator("main table th").all_text_contents()]
    assert rows[:4] == ["Products", "On hand", "Reserved", "Available"]
    assert {"Value", "Cost of goods sold", "Realized P/L", "Write-off", "Products: In stock"} <= set(rows)
    assert not [r for r in rows if "_" in r or r == r.lower()]  # no raw keys


async def test_movers_count_the_period_chosen_on_the_page(api, server, page):
    sku = await make_product(api, name="Mover")
    await record(api, sku, "BUY", 300000, "1.00", at=days_ago(40))
    await record(api, sku, "SELL", 70000, "2.00", at=days_ago(20))
    await record(api, sku, "SELL", 150000, "2.00", at=days_ago(2))  # more than any other test sells at once
    await page.goto(f"{server.url}/reports/movers")
    row = page.locator(f'tr[data-sku="{sku}"]')
    assert (await row.locator("td").last.text_content()).strip() == "220,000"  # 30 days, the default
    assert "the last 30 days" in await page.locator("h1").text_content()

    await page.get_by_label("Period").select_option(label="Last 7 days")
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url("**/reports/movers?days=7*")
    assert (await row.locator("td").last.text_content()).strip() == "150,000"
    assert "the last 7 days" in await page.locator("h1").text_content()
    assert await headings(page) == ["SKU", "Name", "On hand", "Reserved", "Available", "Avg cost", "Value", "Status",
                                    "Sold in 7 d"]  # fmt: skip
    assert await page.get_by_label("Period").input_value() == "7"
    assert "days=7" in await page.get_by_role("link", name="Download CSV").get_attribute("href")

    # The chart: drawn on the server, one bar per product, ours first and longest.
    chart = page.locator("figure.report-chart svg.chart.bars")
    assert await chart.count() == 1
    first = chart.locator("g.bar").first
    assert await first.locator("title").text_content() == f"{sku}: 150,000"
    widths = [
        float(w)
        for w in await chart.locator("g.bar rect").evaluate_all("rects => rects.map(r => r.getAttribute('width'))")
    ]
    assert widths[0] == max(widths) and widths == sorted(widths, reverse=True)
    await page.screenshot(path=screenshot_path("report-movers"), full_page=True)


async def test_the_summary_report_draws_products_by_status_and_money(api, server, page):
    await record(api, await make_product(api, low_stock_threshold=5), "BUY", 2, "1.00")  # one low, at least
    summary = (await api.get("/api/reports/summary")).json()
    await page.goto(f"{server.url}/reports/summary")
    charts = page.locator("figure.report-chart")
    captions = [t.strip() for t in await charts.locator("figcaption").all_text_contents()]
    assert captions == ["Products by status", "Money"]
    statuses = charts.first.locator("g.bar title")
    by_status = summary["by_status"]
    assert await statuses.all_text_contents() == [f"In stock: {by_status['ok']:,}", f"Low: {by_status['low']:,}",
                                                  f"Out: {by_status['out']:,}"]  # fmt: skip
    money = await charts.nth(1).locator("g.bar title").all_text_contents()
    assert money[0] == f"Value: {Decimal(summary['inventory_value']):,.2f}"
    assert [m.split(":")[0] for m in money] == ["Value", "Revenue", "COGS", "Realized P/L", "Write-off", "Gain"]
    svg = await charts.first.locator("svg").evaluate("s => s.outerHTML")
    assert "<script" not in svg and 'role="img"' in svg
    await page.screenshot(path=screenshot_path("report-summary"), full_page=True)
