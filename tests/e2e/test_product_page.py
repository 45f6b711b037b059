"""The product page as managers and clerks use it, in a real browser: every type through the add form
and the in-place edit form (ADJUST with each reason), refusals shown where the user looks (400, 403,
404, 409, 413, 429), every section brought up to date after a change made here or anywhere, the
timeline staying on the page the URL names. The `page` and `open_page` fixtures fail a test on any
console error, uncaught exception, failed request or unexpected HTTP error."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta

import pytest
from playwright.async_api import Locator, Page, expect

from app.domain.rules import Reason
from tests.e2e.conftest import keep_in_docs, screenshot_path
from tests.integration.helpers import make_product, record, summary, timeline

pytestmark = pytest.mark.e2e

SOON = 5_000  # ms: how long a check waits for what an action shows (a loaded 2-core machine is slow)
LIVE_MS = 1_000  # a change made elsewhere shows on an open page within this


ADD = 'form[action$="/transactions"]'  # the add form (an edit posts to /transactions/ID)
MONTH_COLUMNS = ["month", "bought", "sold", "revenue", "cogs", "realized_pl", "write_off", "gain", "closing_stock",
                 "closing_average_cost"]  # fmt: skip


async def open_product(tab: Page, base: str, sku: str, page_no: int | None = None) -> None:
    """The product page, with its live stream connected (so changes elsewhere reach it)."""
    await tab.goto(f"{base}/products/{sku}" + (f"?page_no={page_no}" if page_no else ""))
    await expect(tab.locator('[data-live-state="connected"]')).to_have_count(1, timeout=SOON)
    await tab.evaluate("window.sameDocument = true")  # gone if the page reloads


async def settled(tab: Page) -> None:
    """No refresh of the page's sections under way (product.js marks #product data-refreshing while
    one runs or another is due): a row opened for editing now is not opened in the middle of one."""
    await expect(tab.locator("#product[data-refreshing]")).to_have_count(0, timeout=SOON)


async def still_same_document(tab: Page) -> None:
    assert await tab.evaluate("window.sameDocument === true"), "the page was reloaded"


def figure(tab: Page, field: str) -> Locator:
    return tab.locator(f'.summary [data-field="{field}"]')


def month_cell(tab: Page, month: str, field: str) -> Locator:
    """A figure of the monthly table, found as a reader finds it: the month's row, the column's cell."""
    table = tab.locator("table").filter(has=tab.get_by_role("columnheader", name="Closing stock"))
    row = table.locator("tbody tr").filter(has=tab.get_by_role("cell", name=month, exact=True))
    return row.locator("td").nth(MONTH_COLUMNS.index(field))


def timeline_rows(tab: Page) -> Locator:
    return tab.locator("table.timeline tbody tr")


def chart_line(tab: Page) -> Locator:
    return tab.locator("svg.chart path.line")


def notice(tab: Page) -> Locator:
    return tab.locator("#notices")


async def add(tab: Page, kind: str, quantity: str, price: str = "", reason: str | None = None,
              at: str | None = None, note: str = "") -> None:  # fmt: skip
    form = tab.locator(ADD)
    await form.get_by_label("Type").select_option(kind)
    await form.get_by_label("Quantity").fill(quantity)
    if kind in ("COUNT", "TRANSFER"):  # no price to give: the field goes away
        await expect(form.get_by_label("Unit price")).to_be_hidden()
    else:
        await form.get_by_label("Unit price").fill(price)
    if reason is not None:
        await form.get_by_label("Reason").select_option(reason)
    if at is not None:
        await form.get_by_label("Date").fill(at)
    await form.get_by_label("Note").fill(note)
    await form.get_by_role("button", name="Add").click()


def local(days_ago: int, hour: int = 10) -> str:
    """A value for the Date field (datetime-local, business time zone UTC in the tests)."""
    moment = datetime.now().replace(hour=hour, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


# --- Item 1: every type through the add form, ADJUST with each reason -----------------------------


async def test_a_manager_records_every_type_and_every_adjust_reason_from_the_product_page(api, server, page):
    sku = await make_product(api, name="Every type")
    await open_product(page, server.url, sku)
    form = page.locator(ADD)
    reason = form.get_by_label("Reason")
    await expect(reason).to_be_hidden()
    await form.get_by_label("Type").select_option("ADJUST")
    await expect(reason).to_be_visible()  # the CSS rule needs <option value="ADJUST">
    await form.get_by_label("Type").select_option("BUY")
    await expect(reason).to_be_hidden()

    await add(page, "BUY", "100", "2.00")
    await expect(notice(page)).to_contain_text("Recorded BUY of 100 at 2.00", timeout=SOON)
    await expect(figure(page, "on_hand")).to_have_text("100", timeout=SOON)
    await add(page, "SELL", "10", "5.00")
    await expect(notice(page)).to_contain_text("Recorded SELL of 10 at 5.00", timeout=SOON)
    await expect(figure(page, "realized_pl")).to_have_text("30.00", timeout=SOON)
    stock = 90
    for i, why in enumerate(Reason):
        change = 3 if why.value in ("found", "return", "correction") else -2
        stock += change
        await add(page, "ADJUST", str(change), reason=why.value, note=f"reason {i}")
        await expect(notice(page)).to_contain_text(f"Recorded ADJUST of {change} ({why.value})", timeout=SOON)
        await expect(figure(page, "on_hand")).to_have_text(str(stock), timeout=SOON)
        row = timeline_rows(page).filter(has_text=f"reason {i}")
        await expect(row).to_contain_text(f"ADJUST ({why.value})")
    await add(page, "COUNT", "80")
    await expect(notice(page)).to_contain_text("Recorded COUNT of 80", timeout=SOON)
    await expect(figure(page, "on_hand")).to_have_text("80", timeout=SOON)
    month = datetime.now().strftime("%Y-%m")  # the test server's business time zone is UTC
    await expect(month_cell(page, month, "closing_stock")).to_have_text("80", timeout=SOON)
    await expect(page.locator("svg.chart")).to_be_visible()
    await still_same_document(page)
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "SELL"] + ["ADJUST"] * len(Reason) + ["COUNT"]
    assert [x["reason"] for x in await timeline(api, sku) if x["type"] == "ADJUST"] == [r.value for r in Reason]


async def test_adjust_without_a_reason_says_so_beside_the_visible_reason_field(api, server, page, problems):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    problems.expect_status(400, f"/products/{sku}/transactions")
    await open_product(page, server.url, sku)
    await add(page, "ADJUST", "-1", reason="")
    form = page.locator(ADD)
    message = form.locator(".reason .error")
    await expect(message).to_have_text("is required for ADJUST", timeout=SOON)
    await expect(message).to_be_visible()
    await expect(form.get_by_label("Reason")).to_be_visible()
    await expect(form.get_by_label("Quantity")).to_have_value("-1")  # what was typed stays
    await form.get_by_label("Reason").select_option("damage")
    await form.get_by_role("button", name="Add").click()
    await expect(notice(page)).to_contain_text("Recorded ADJUST of -1 (damage)", timeout=SOON)
    await expect(figure(page, "on_hand")).to_have_text("4", timeout=SOON)
    assert (await summary(api, sku))["on_hand"] == 4


async def test_a_reason_left_in_the_hidden_field_is_not_sent_with_another_type(api, server, page):
    sku = await make_product(api)
    await open_product(page, server.url, sku)
    form = page.locator(ADD)
    await form.get_by_label("Type").select_option("ADJUST")
    await form.get_by_label("Reason").select_option("found")
    await add(page, "BUY", "3", "1.50")  # Reason is hidden again, still holding "found"
    await expect(notice(page)).to_contain_text("Recorded BUY of 3 at 1.50", timeout=SOON)
    assert (await timeline(api, sku))[0]["reason"] is None


async def test_the_in_place_edit_form_shows_reason_for_adjust_and_saves_each_type(api, server, page, problems):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-01-05T09:00:00+00:00")
    other = await record(api, sku, "BUY", 5, "3.00", at="2026-01-06T09:00:00+00:00")
    problems.expect_status(400, f"/transactions/{other['id']}")
    await open_product(page, server.url, sku)
    row = page.locator(f"#tx-{other['id']}")
    await row.get_by_role("link", name="Edit").click()
    reason = row.get_by_label("Reason")
    await expect(reason).to_be_hidden()
    await row.get_by_label("Type").select_option("ADJUST")
    await expect(reason).to_be_visible()
    await row.get_by_label("Unit price").fill("")
    await row.get_by_role("button", name="Save").click()  # no reason: refused beside the field
    await expect(row.locator(".reason .error")).to_have_text("is required for ADJUST", timeout=SOON)
    await row.get_by_label("Reason").select_option("found")
    await row.get_by_role("button", name="Save").click()
    await expect(notice(page)).to_contain_text("Saved ADJUST of 5 (found)", timeout=SOON)
    await expect(page.locator(f"#tx-{other['id']}")).to_contain_text("ADJUST (found)")
    steps = [("COUNT", "12", "", "12"), ("SELL", "4", "6.00", "6"), ("BUY", "5", "3.00", "15")]
    for kind, quantity, price, shown in steps:
        await settled(page)
        row = page.locator(f"#tx-{other['id']}")
        await row.get_by_role("link", name="Edit").click()
        await row.get_by_label("Type").select_option(kind)
        await row.get_by_label("Quantity").fill(quantity)
        if kind == "COUNT":  # the field goes away, the price of the row before still in it: not sent
            await expect(row.get_by_label("Unit price")).to_be_hidden()
        else:
            await row.get_by_label("Unit price").fill(price)
        await expect(row.get_by_label("Quantity")).to_have_value(quantity)  # still what was typed
        await row.get_by_role("button", name="Save").click()
        await expect(notice(page)).to_contain_text(f"Saved {kind} of {quantity}", timeout=SOON)
        await expect(figure(page, "on_hand")).to_have_text(shown, timeout=SOON)
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "BUY"]
    assert (await timeline(api, sku))[0]["id"] == buy["id"]


# --- Item 2: refusals through htmx are shown, never swallowed ----------------------------------------


async def test_a_clerk_records_buy_and_sell_today_and_a_backdated_sell_is_refused_visibly(
    api, server, open_page, problems
):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    problems.expect_status(403, f"/products/{sku}/transactions")
    clerk = await open_page("clerk1")
    await open_product(clerk, server.url, sku)
    form = clerk.locator(ADD)
    offered = await form.get_by_label("Type").locator("option").all_text_contents()
    assert offered == ["BUY", "SELL"]
    await expect(clerk.get_by_role("link", name="Edit")).to_have_count(0)

    await add(clerk, "SELL", "1", "3.00", at=local(3))  # backdated: a manager's
    message = form.locator("[role=alert]")
    await expect(message).to_contain_text("needs the manager role; you are clerk", timeout=SOON)
    await expect(message).to_be_visible()
    await expect(form.get_by_label("Quantity")).to_have_value("1")  # nothing typed is lost
    # (A screenshot leaves style="" on the inputs, as browser extensions do: the swaps below must not
    # copy that attribute while settling, or the CSP refuses it with a console error.)
    await clerk.screenshot(path=screenshot_path("product-page-clerk-refused"), full_page=True)
    assert (await summary(api, sku))["transaction_count"] == 1

    proposed = await form.locator("[name=at_default]").input_value()  # "now", as the form proposed it
    await form.get_by_label("Date").fill(proposed)
    await add(clerk, "BUY", "4", "1.10")
    await expect(notice(clerk)).to_contain_text("Recorded BUY of 4 at 1.10", timeout=SOON)
    await expect(message).to_have_count(0)
    await add(clerk, "SELL", "2", "3.00")
    await expect(notice(clerk)).to_contain_text("Recorded SELL of 2 at 3.00", timeout=SOON)
    await expect(figure(clerk, "on_hand")).to_have_text("12", timeout=SOON)
    assert (await summary(api, sku))["transaction_count"] == 3


async def test_a_double_click_on_add_records_once(api, server, page):
    sku = await make_product(api)
    await open_product(page, server.url, sku)
    form = page.locator(ADD)
    await form.get_by_label("Quantity").fill("7")
    await form.get_by_label("Unit price").fill("1.00")
    await form.get_by_role("button", name="Add").dblclick()
    await expect(figure(page, "on_hand")).to_have_text("7", timeout=SOON)
    await expect(notice(page)).to_contain_text("Recorded BUY of 7 at 1.00")
    await expect(timeline_rows(page)).to_have_count(1)
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_a_sale_beyond_the_stock_is_refused_beside_the_add_form_naming_why(api, server, page, problems):
    sku = await make_product(api)
    await record(api, sku, "BUY", 3, "1.00")
    problems.expect_status(409, f"/products/{sku}/transactions")
    await open_product(page, server.url, sku)
    await add(page, "SELL", "5", "2.00")
    message = page.locator(f"{ADD} [role=alert]")
    await expect(message).to_contain_text("-2", timeout=SOON)  # the stock it would leave
    await expect(message).to_be_visible()
    assert (await summary(api, sku))["on_hand"] == 3


async def test_a_refused_edit_shows_the_409_naming_the_breaking_sale_on_its_row(api, server, page):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-03-01T09:00:00+00:00")
    sale = await record(api, sku, "SELL", 8, "5.00", at="2026-03-02T09:00:00+00:00")
    await open_product(page, server.url, sku)
    row = page.locator(f"#tx-{buy['id']}")
    await row.get_by_role("link", name="Edit").click()
    await row.get_by_label("Quantity").fill("5")
    await row.get_by_role("button", name="Save").click()
    message = page.locator(f"#tx-{buy['id']} [role=alert]")
    await expect(message).to_contain_text("sale of 8", timeout=SOON)
    await expect(page.locator(f"#tx-{sale['id']}")).to_have_class(re.compile(r"\bbreaks\b"))  # the row it names
    await page.screenshot(path=screenshot_path("product-refused-edit"), full_page=True)
    await expect(message).to_contain_text("-3")
    await expect(message).to_be_visible()
    await expect(figure(page, "on_hand")).to_have_text("2")
    assert (await summary(api, sku))["on_hand"] == 2


async def test_a_row_deleted_elsewhere_answers_404_shown_on_that_row(api, server, page, problems):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00", at="2026-03-01T09:00:00+00:00")
    gone = await record(api, sku, "BUY", 2, "1.00", at="2026-03-02T09:00:00+00:00")
    problems.expect_status(404, f"/transactions/{gone['id']}/edit")
    await page.route("**/events?*", lambda route: route.fulfill(status=204))  # no live stream: the row stays stale
    await page.goto(f"{server.url}/products/{sku}")
    assert (await api.delete(f"/api/transactions/{gone['id']}")).status_code == 204
    row = page.locator(f"#tx-{gone['id']}")
    await row.get_by_role("link", name="Edit").click()
    await expect(row.locator("[role=alert]")).to_contain_text(f"No transaction with id {gone['id']}", timeout=SOON)


async def test_a_body_too_large_answers_413_shown_on_the_form(api, server, page, problems):
    sku = await make_product(api)
    problems.expect_status(413, f"/products/{sku}/transactions")
    await open_product(page, server.url, sku)
    form = page.locator(ADD)
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Unit price").fill("1.00")
    huge = "(el) => { el.removeAttribute('maxlength'); el.value = 'x'.repeat(1100000); }"  # over the 1 MB limit
    await form.get_by_label("Note").evaluate(huge)
    await form.get_by_role("button", name="Add").click()
    await expect(form.locator("[role=alert]")).to_be_visible(timeout=SOON)
    await expect(form.locator("[role=alert]")).to_contain_text(re.compile("too large", re.IGNORECASE))
    assert (await summary(api, sku))["transaction_count"] == 0


REFUSALS = [
    (400, "application/json", {"status_code": 400, "detail": "Invalid transaction",
                               "extra": {"errors": [{"field": "quantity", "message": "must be a whole number"}]}},
     f"{ADD} label:has([name=quantity]) .error", "must be a whole number"),
    (403, "application/json", {"status_code": 403, "detail": "Recording this needs the manager role; you are clerk"},
     f"{ADD} [role=alert]", "needs the manager role"),
    (404, "application/json", {"status_code": 404, "detail": "No product with SKU 'X'"}, f"{ADD} [role=alert]",
     "No product with SKU"),
    (409, "application/json", {"status_code": 409, "detail": "This would leave stock at -2 after the sale of 5"},
     f"{ADD} [role=alert]", "would leave stock at -2"),
    (413, "text/plain", "Request Entity Too Large", f"{ADD} [role=alert]", "Request Entity Too Large"),
    (429, "application/json", {"status_code": 429, "detail": "Too many requests"}, f"{ADD} [role=alert]",
     "Too many requests. Try again in 30 s."),
    (403, "text/html", "<!doctype html><html><body><main><h1>That did not work</h1>"
                       "<p class='problems' role='alert'>A full error page says why</p></main></body></html>",
     f"{ADD} [role=alert]", "A full error page says why"),
    (503, "application/json", {"status_code": 503, "detail": "The database is not reachable right now"},
     f"{ADD} [role=alert]", "The server failed (503): The database is not reachable right now"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "kind", "body", "where", "text"), REFUSALS,
                         ids=[f"{r[0]}-{r[1].split('/')[1]}" for r in REFUSALS])  # fmt: skip
async def test_every_refusal_an_htmx_form_gets_is_shown_where_the_user_looks(
    api, server, page, problems, status, kind, body, where, text
):
    """Each kind of answer a refusal can take (the API's JSON with field errors, a full error page, plain
    text), answered by a stand-in server: the message lands beside the field or on the form."""
    sku = await make_product(api)
    problems.expect_status(status, f"/products/{sku}/transactions")
    await open_product(page, server.url, sku)
    content = body if isinstance(body, str) else json.dumps(body)
    headers = {"Retry-After": "30"} if status == 429 else {}

    async def refuse(route):
        await route.fulfill(status=status, content_type=kind, body=content, headers=headers)

    await page.route(f"**/products/{sku}/transactions", refuse)
    await add(page, "BUY", "2", "1.00")
    shown = page.locator(where)
    await expect(shown).to_contain_text(text, timeout=SOON)
    await expect(shown).to_be_visible()
    await expect(page.locator(ADD).get_by_role("button", name="Add")).to_be_enabled()
    await page.unroute(f"**/products/{sku}/transactions")
    await page.locator(ADD).get_by_role("button", name="Add").click()  # sent again: the message goes
    await expect(notice(page)).to_contain_text("Recorded BUY of 2", timeout=SOON)
    await expect(page.locator(where)).to_have_count(0)


async def test_a_refusal_with_no_form_or_row_to_show_it_goes_to_the_message_area(api, server, page, problems):
    sku = await make_product(api)
    problems.expect_status(403, "/refused-here")
    await open_product(page, server.url, sku)
    await page.route("**/refused-here", lambda route: route.fulfill(
        status=403, content_type="application/json",
        body=json.dumps({"status_code": 403, "detail": "This needs the manager role; you are viewer"})))  # fmt: skip
    await page.evaluate("""() => htmx.ajax("GET", "/refused-here", {source: "h1", swap: "none"})""")
    message = page.get_by_role("alert").filter(has_text="This needs the manager role; you are viewer")
    await expect(message).to_be_visible(timeout=SOON)
    await expect(page.locator("#alerts")).to_contain_text("you are viewer")
    await page.locator("#alerts").get_by_role("button", name="Dismiss").click()
    await expect(message).to_have_count(0)


# --- Item 3: the page never goes stale --------------------------------------------------------------


async def two_pages_of_history(api) -> tuple[str, list[dict]]:
    """A product with 55 purchases of 1 unit, one a day from 1 Jan 2026: page 2 holds the 5 oldest."""
    sku = await make_product(api, name="Long history")
    rows = [await record(api, sku, "BUY", 1, "1.00", at=(datetime(2026, 1, 1, 9) + timedelta(days=i)).isoformat()
                         + "+00:00") for i in range(55)]  # fmt: skip
    return sku, rows


async def pager(tab: Page) -> Locator:
    return tab.get_by_role("navigation", name="Timeline pages")


async def test_an_edit_on_page_2_refreshes_every_section_and_stays_on_page_2(api, server, page):
    sku, rows = await two_pages_of_history(api)
    old = rows[2]  # 3 Jan, on page 2
    await open_product(page, server.url, sku, page_no=2)
    await expect(await pager(page)).to_contain_text("page 2 of 2")
    chart_before = await chart_line(page).get_attribute("d")
    await expect(figure(page, "average_cost")).to_have_text("1.00")
    await expect(month_cell(page, "2026-01", "closing_average_cost")).to_have_text("1.00")

    row = page.locator(f"#tx-{old['id']}")
    await row.get_by_role("link", name="Edit").click()
    await row.get_by_label("Unit price").fill("12.00")
    await row.get_by_label("Quantity").fill("11")
    await row.get_by_role("button", name="Preview").click()
    await expect(page.locator(f"#tx-{old['id']} [data-preview=on_hand]")).to_contain_text("65", timeout=SOON)
    await page.locator(f"#tx-{old['id']}").get_by_role("button", name="Save").click()

    await expect(figure(page, "on_hand")).to_have_text("65", timeout=SOON)  # summary
    await expect(month_cell(page, "2026-01", "bought")).to_have_text("41")  # monthly: 31 days + 10 more
    await expect(month_cell(page, "2026-02", "closing_stock")).to_have_text("65")
    await expect(chart_line(page)).not_to_have_attribute("d", chart_before or "")  # chart
    await expect(await pager(page)).to_contain_text("page 2 of 2")  # the timeline stays on page 2
    await expect(figure(page, "average_cost")).to_have_text("2.86")  # (54 × 1.00 + 11 × 12.00) / 65 = 2.8615...
    await expect(notice(page)).to_contain_text("Saved BUY of 11 at 12.00 on Jan 3, 2026 09:00")
    assert page.url.endswith("?page_no=2")
    saved_row = page.locator(f"#tx-{old['id']}")
    await expect(saved_row).to_contain_text("12.00")
    await expect(timeline_rows(page)).to_have_count(5)
    await still_same_document(page)
    await page.screenshot(path=screenshot_path("product-page-edited-page-2"), full_page=True)


async def test_add_and_delete_refresh_every_section_and_keep_the_page(api, server, page):
    sku, rows = await two_pages_of_history(api)
    await open_product(page, server.url, sku, page_no=2)
    month = datetime.now().strftime("%Y-%m")
    await expect(month_cell(page, month, "sold")).to_have_count(0)
    chart_before = await chart_line(page).get_attribute("d")

    await add(page, "SELL", "5", "4.00")
    await expect(figure(page, "on_hand")).to_have_text("50", timeout=SOON)
    await expect(figure(page, "realized_pl")).to_have_text("15.00")
    await expect(month_cell(page, month, "sold")).to_have_text("5")
    await expect(chart_line(page)).not_to_have_attribute("d", chart_before or "")
    await expect(await pager(page)).to_contain_text("page 2 of 2")
    await expect(timeline_rows(page)).to_have_count(6)  # 56 rows: 50 on page 1
    await expect(notice(page)).to_contain_text("Recorded SELL of 5 at 4.00")
    await expect(notice(page)).to_contain_text("on hand now 50")
    await expect(page.locator(ADD).get_by_label("Quantity")).to_have_value("")  # ready for the next

    oldest = rows[0]
    await page.locator(f"#tx-{oldest['id']}").get_by_role("link", name="Delete").click()
    await expect(page.locator(f"#tx-{oldest['id']} .preview")).to_contain_text("50", timeout=SOON)
    await page.locator(f"#tx-{oldest['id']}").get_by_role("button", name="Delete").click()
    await expect(page.locator(f"#tx-{oldest['id']}")).to_have_count(0, timeout=SOON)
    await expect(figure(page, "on_hand")).to_have_text("49")
    await expect(month_cell(page, "2026-01", "bought")).to_have_text("30")
    await expect(await pager(page)).to_contain_text("page 2 of 2")
    await expect(timeline_rows(page)).to_have_count(5)
    await expect(notice(page)).to_contain_text("Deleted BUY of 1 at 1.00 on Jan 1, 2026 09:00")
    await still_same_document(page)
    assert (await summary(api, sku))["on_hand"] == 49


async def test_a_change_in_another_browser_refreshes_every_section_within_a_second(
    api, server, second_server, open_page
):
    """The watcher (a viewer) and the clerk use different app processes; the change travels through
    PostgreSQL's NOTIFY and /events to the watcher's page, which fetches its sections again."""
    sku = await make_product(api, name="Watched")
    await record(api, sku, "BUY", 20, "2.00", at="2026-02-01T09:00:00+00:00")
    watcher = await open_page("viewer1")
    clerk = await open_page("clerk1", base=second_server.url)
    await open_product(watcher, server.url, sku)
    await open_product(clerk, second_server.url, sku)
    month = datetime.now().strftime("%Y-%m")
    chart_before = await chart_line(watcher).get_attribute("d")

    recorded = f"/products/{sku}/transactions"
    async with clerk.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(recorded)):
        await add(clerk, "SELL", "3", "5.00", note="counter sale")
    started = time.monotonic()  # the clerk's sale is committed: the watcher has a second from now
    await expect(figure(watcher, "on_hand")).to_have_text("17", timeout=SOON)
    await expect(timeline_rows(watcher).first).to_contain_text("counter sale", timeout=SOON)
    await expect(month_cell(watcher, month, "sold")).to_have_text("3", timeout=SOON)
    await expect(chart_line(watcher)).not_to_have_attribute("d", chart_before or "", timeout=SOON)
    assert time.monotonic() - started < LIVE_MS / 1000, "the other browser's page took more than a second"

    # and through the API
    await record(api, sku, "BUY", 10, "2.60", note="api delivery")
    started = time.monotonic()
    await expect(figure(watcher, "on_hand")).to_have_text("27", timeout=SOON)
    await expect(figure(watcher, "average_cost")).to_have_text("2.22")  # (17 × 2.00 + 10 × 2.60) / 27
    await expect(timeline_rows(watcher).first).to_contain_text("api delivery", timeout=SOON)
    await expect(month_cell(watcher, month, "bought")).to_have_text("10", timeout=SOON)
    assert time.monotonic() - started < LIVE_MS / 1000, "the page took more than a second after the API change"
    await still_same_document(watcher)
    await still_same_document(clerk)
    await expect(notice(clerk)).to_contain_text("Recorded SELL of 3")
    await expect(figure(clerk, "on_hand")).to_have_text("27", timeout=SOON)  # the clerk's page too
    await watcher.screenshot(path=screenshot_path("product-page-watcher"), full_page=True)


async def test_a_row_being_edited_keeps_what_was_typed_while_the_page_refreshes(api, server, page):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-03-01T09:00:00.250000+00:00")
    await open_product(page, server.url, sku)
    row = page.locator(f"#tx-{buy['id']}")
    await row.get_by_role("link", name="Edit").click()
    await row.get_by_label("Note").fill("typed before the change")
    await record(api, sku, "SELL", 2, "4.00")  # from elsewhere, while the row is open
    await expect(figure(page, "on_hand")).to_have_text("8", timeout=SOON)
    await expect(row.get_by_label("Note")).to_have_value("typed before the change")
    await row.get_by_role("button", name="Save").click()
    await expect(page.locator(f"#tx-{buy['id']}")).to_contain_text("typed before the change", timeout=SOON)
    await expect(page.locator(f"#tx-{buy['id']}").get_by_label("Note")).to_have_count(0)  # a plain row again
    # The Date was left alone (Chromium shows "09:00" for "09:00:00"): the moment is kept to the microsecond.
    assert [x["at"] for x in await timeline(api, sku) if x["id"] == buy["id"]] == [buy["at"]]
    await expect(notice(page)).to_contain_text("Saved BUY of 10 at 2.00")


async def test_a_row_being_edited_that_someone_deletes_says_so_when_its_form_goes(api, server, page):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-03-01T09:00:00+00:00")
    gone = await record(api, sku, "BUY", 3, "2.00", at="2026-03-02T09:00:00+00:00")
    await open_product(page, server.url, sku)
    row = page.locator(f"#tx-{gone['id']}")
    await row.get_by_role("link", name="Edit").click()
    await row.get_by_label("Note").fill("typed, never saved")
    assert (await api.delete(f"/api/transactions/{gone['id']}")).status_code == 204  # another user, elsewhere
    await expect(figure(page, "on_hand")).to_have_text("10", timeout=SOON)
    await expect(page.locator("#alerts")).to_contain_text(
        f"The transaction you were editing (transaction {gone['id']}) is no longer on this page", timeout=SOON
    )


# --- Item 7: no console errors, a favicon -------------------------------------------------------------


async def test_the_page_has_a_favicon_and_its_forms_make_no_console_errors(api, server, page):
    """The `page` fixture fails on any console error: this drives Preview (hx-disabled-elt used to
    match nothing there), Cancel, Delete/Keep it and Add, then checks the icon is served."""
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 4, "1.00", at="2026-04-01T09:00:00+00:00")
    await open_product(page, server.url, sku)
    row = page.locator(f"#tx-{buy['id']}")
    await row.get_by_role("link", name="Edit").click()
    await row.get_by_role("button", name="Preview").click()
    await expect(page.locator(f"#tx-{buy['id']} .preview")).to_be_visible(timeout=SOON)
    await page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Cancel").click()
    await page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Delete").click()
    await page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Keep it").click()
    await expect(page.locator(f"#tx-{buy['id']}").get_by_role("link", name="Edit")).to_be_visible(timeout=SOON)
    await add(page, "BUY", "1", "1.00")
    await expect(notice(page)).to_contain_text("Recorded BUY of 1", timeout=SOON)
    icon = await page.locator('link[rel="icon"]').get_attribute("href")
    answer = await page.request.get(f"{server.url}{icon}")
    assert answer.status == 200 and answer.headers["content-type"].startswith("image/svg+xml")
    await expect(notice(page)).to_be_visible()
    await page.screenshot(path=screenshot_path("product-page"), full_page=True)
    keep_in_docs("product-page")


async def test_the_watcher_fails_a_test_on_a_console_error(problems, page, server):
    """The helper itself: an error logged by a page, an uncaught exception and an unexpected 404."""
    await page.goto(f"{server.url}/")
    await page.evaluate("console.error('boom')")
    await page.evaluate("setTimeout(() => { throw new Error('uncaught'); })")
    await page.evaluate("fetch('/no-such-page')")
    await page.wait_for_timeout(300)
    seen = "\n".join(problems.seen)
    assert "console error: boom" in seen and "uncaught error" in seen and "HTTP 404" in seen
    problems.seen.clear()  # (so this test itself passes)


# --- Item 2 for every form of the app: another developer's form gets it without doing anything ----------


async def test_a_clerks_backdated_sale_on_the_entry_form_is_shown_too(api, server, open_page, problems):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    problems.expect_status(403, "/transactions/new")
    clerk = await open_page("clerk1")
    await clerk.goto(f"{server.url}/transactions/new")
    form = clerk.locator("form.entry")
    await form.get_by_label("Product").fill(sku)
    await form.get_by_label("Type").select_option("SELL")
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Unit price").fill("2.00")
    await form.get_by_label("Date").fill(local(5))
    await form.get_by_role("button", name="Record").click()
    message = clerk.get_by_role("alert").filter(has_text="needs the manager role")
    await expect(message).to_be_visible(timeout=SOON)
    assert (await summary(api, sku))["on_hand"] == 10
