"""Clerks and managers in real browsers: live figures, in-place history edits, the entry form."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import screenshot_path, signed_in
from tests.integration.helpers import make_product, record, summary, timeline

pytestmark = pytest.mark.e2e


async def fill_entry(tab, sku: str, kind: str, quantity: str, price: str) -> None:
    await tab.get_by_label("Product").fill(sku)
    await tab.get_by_label("Type").select_option(kind)
    await tab.get_by_label("Quantity").fill(quantity)
    await tab.get_by_label("Unit price").fill(price)


async def test_a_sell_recorded_through_the_form_changes_the_dashboard_row(api, server, browser):
    sku = await make_product(api, name="Live row")
    await record(api, sku, "BUY", 20, "1.00")
    context = await signed_in(browser, server.url)
    board, entry = await context.new_page(), await context.new_page()
    await board.goto(f"{server.url}/?q={sku}")
    await entry.goto(f"{server.url}/transactions/new")
    await fill_entry(entry, sku, "SELL", "3", "2.50")
    await entry.get_by_role("button", name="Record").click()
    await entry.get_by_text("Recorded SELL of 3").wait_for()
    cell = board.locator(f'tr[data-sku="{sku}"] [data-field="on_hand"]')
    # An arrow function, not an expression: Playwright polls an expression with eval(), which the CSP refuses.
    await board.wait_for_function(f"""() => document.querySelector('tr[data-sku="{sku}"] [data-field="on_hand"]')
                                      .textContent === '17'""")  # fmt: skip
    assert await cell.text_content() == "17"
    await entry.screenshot(path=screenshot_path("entry-form"), full_page=True)
    await context.close()


async def test_a_change_on_one_process_shows_in_a_browser_on_the_other_within_a_second(
    api, server, second_server, browser
):
    sku = await make_product(api, name="Two processes", low_stock_threshold=5)
    await record(api, sku, "BUY", 8, "1.00")
    watcher = await (await signed_in(browser, server.url)).new_page()
    clerk = await (await signed_in(browser, second_server.url, "clerk1")).new_page()
    await watcher.goto(f"{server.url}/?q={sku}")
    await watcher.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    await clerk.goto(f"{second_server.url}/transactions/new")
    await fill_entry(clerk, sku, "SELL", "4", "3.00")
    await clerk.get_by_role("button", name="Record").click()
    await clerk.get_by_text("Recorded SELL of 4").wait_for()
    seen = time.monotonic()
    await watcher.wait_for_function(
        f"""() => document.querySelector('tr[data-sku="{sku}"] [data-field="available"]').textContent === '4'
            && !!document.querySelector('[data-alert-sku="{sku}"] .badge.low')""",
        timeout=5000,
    )
    assert time.monotonic() - seen < 1.0
    await watcher.screenshot(path=screenshot_path("dashboard"), full_page=True)


async def test_editing_a_past_buy_price_in_place_previews_and_refigures_later_rows(api, server, page):
    sku = await make_product(api, name="Price fix")
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-05-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 4, "5.00", at="2026-05-03T09:00:00+00:00")
    await page.goto(f"{server.url}/products/{sku}")
    await page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Edit").click()
    editing = page.locator(f"#tx-{buy['id']}")
    await editing.get_by_label("Unit price").fill("2.50")
    await editing.get_by_role("button", name="Preview").click()
    await page.locator(f"#tx-{buy['id']} [data-preview=realized_pl]").wait_for()
    assert "12.00" in await page.locator(f"#tx-{buy['id']} [data-preview=realized_pl]").text_content()
    assert (await summary(api, sku))["realized_pl"] == "12.00"  # nothing saved yet
    await page.screenshot(path=screenshot_path("product-page"), full_page=True)
    await page.locator(f"#tx-{buy['id']}").get_by_role("button", name="Save").click()
    await page.locator(f"#tx-{sell['id']}").get_by_text("10.00").wait_for()  # P/L 20.00 - 10.00
    rows = {x["id"]: x for x in await timeline(api, sku)}
    assert (rows[sell["id"]]["average_cost_after"], rows[sell["id"]]["realized_pl"]) == ("2.500000", "10.00")


async def test_a_rejected_delete_shows_why_next_to_the_row(api, server, page):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 2, "2.00", at="2026-05-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 2, "5.00", at="2026-05-03T09:00:00+00:00")
    await page.goto(f"{server.url}/products/{sku}")
    await page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Delete").click()
    message = page.locator(f"#tx-{buy['id']} .error")
    await message.wait_for()
    assert "the sale of 2 on May 3, 2026 09:00" in await message.text_content()
    assert f"transaction {sell['id']}" not in await message.text_content()
    assert (await summary(api, sku))["transaction_count"] == 2


async def test_a_double_click_on_record_records_once(api, server, page):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    await page.goto(f"{server.url}/transactions/new")
    await fill_entry(page, sku, "SELL", "1", "2.00")
    await page.get_by_role("button", name="Record").dblclick()
    await page.get_by_text("Recorded SELL of 1").wait_for()
    await page.wait_for_timeout(500)
    assert (await summary(api, sku))["on_hand"] == 9


@pytest.mark.parametrize("where", ["/", "/reservations", "/products/{sku}"])
async def test_a_page_whose_live_updates_the_server_refuses_says_so(api, server, browser, database_url, where):
    """Deactivated (or with a password reset), a user's open streams end and the server refuses the
    next one (401): the browser gives up, and the page says its figures stopped following."""
    import uuid

    from tests.conftest import make_user

    sku = await make_product(api)
    name = f"watcher-{uuid.uuid4().hex[:8]}"
    make_user(database_url, name, "clerk")
    theirs = await signed_in(browser, server.url, name)
    tab = await theirs.new_page()
    await tab.goto(server.url + where.format(sku=sku))
    live = '[data-live-state="connected"], body[data-holds-live="connected"]'
    await tab.locator(live).first.wait_for(state="attached")
    assert await tab.locator('[data-live="down"]').count() == 0
    gone = await api.post(f"/admin/users/{name}/disable", headers={"accept": "text/html"})
    assert gone.status_code in (200, 303), gone.text
    await tab.locator('[data-live="down"]').wait_for(timeout=20000)
    assert "Live updates stopped" in await tab.locator("#alerts").inner_text()
    await tab.screenshot(path=screenshot_path(f"live-stopped{where.replace('/', '-').split('{')[0]}"))
    await theirs.close()


async def test_the_dashboards_totals_follow_a_change_to_a_product_not_on_the_page(api, server, browser):
    """The totals row sums every product the filters match; one on another page changes: the row says
    so within a few seconds (the stream's `totals` event, then /totals), and the live rows still work."""
    word = f"Tot{int(time.time() * 1000) % 10**9}"
    shown = await make_product(api, sku=f"{word}-A", name=f"{word} a", low_stock_threshold=2)
    away = await make_product(api, sku=f"{word}-B", name=f"{word} b")
    await record(api, shown, "BUY", 5, "1.00")
    await record(api, away, "BUY", 7, "1.00")
    tab = await (await signed_in(browser, server.url)).new_page()
    await tab.goto(f"{server.url}/?q={word}&per=1")  # sorted by SKU: `shown` alone is on page 1
    await tab.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    assert await tab.locator("#products tbody tr[data-sku]").count() == 1
    assert await tab.locator(f'tr[data-sku="{shown}"]').count() == 1
    total = tab.locator('#products [data-total="on_hand"]')
    assert await total.text_content() == "12"
    await record(api, away, "BUY", 1000, "1.00")  # not on the page
    await tab.wait_for_function(
        """() => document.querySelector('#products [data-total="on_hand"]').textContent === '1,012'""", timeout=15000
    )
    await record(api, shown, "SELL", 4, "2.00")  # on the page: its row, its alert and the totals still follow
    await tab.locator(f'[data-alert-sku="{shown}"] .badge.low').wait_for(timeout=15000)
    await tab.wait_for_function(
        """() => document.querySelector('#products [data-total="on_hand"]').textContent === '1,008'""", timeout=15000
    )
    assert await tab.locator(f'tr[data-sku="{shown}"] [data-field="on_hand"]').text_content() == "1"
    await tab.context.close()
