"""The reservations page as a clerk uses it: a phone order held from the page, confirmed or cancelled
in place (the row leaves the Active table), cancel asked first, and times left as people say them."""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.e2e.conftest import screenshot_path, signed_in
from tests.integration.helpers import gtin, make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.e2e


async def clerk_tab(browser, server, **options):
    """A clerk's tab that records every console error and every dialog (answered by `tab.answer`)."""
    context = await signed_in(browser, server.url, "clerk1", viewport={"width": 1200, "height": 900}, **options)
    tab = await context.new_page()
    tab.errors, tab.dialogs, tab.answer = [], [], "dismiss"
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)

    async def on_dialog(dialog):
        tab.dialogs.append(dialog.message)
        await (dialog.accept() if tab.answer == "accept" else dialog.dismiss())

    tab.on("dialog", on_dialog)
    return context, tab


async def reservations_of(api, sku):
    return (await api.get("/api/reservations", params={"sku": sku})).json()["items"]


async def a_hold_on_a_clerks_page(api, server, browser, order_ref):
    """A product with 10 in stock and one unit held for `order_ref`, and a clerk's reservations page
    of that product, following holds live."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": order_ref})).json()
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    await tab.locator('body[data-holds-live="connected"]').wait_for(state="attached")
    return sku, held, context, tab


async def test_a_phone_order_is_held_from_the_page_with_each_refusal_beside_its_field(api, server, browser):
    sku = await make_product(api, name="Phone order tea")
    await record(api, sku, "BUY", 5, "1.00")
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    await tab.evaluate("window.sameDocument = true")
    form = tab.locator("#reserve")

    await form.get_by_label("Product (SKU or barcode)").fill("NO-SUCH-" + sku)
    await form.get_by_label("Quantity").fill("2")
    await form.get_by_label("Order reference").fill("phone-1")
    await form.get_by_role("button", name="Reserve").click()
    await form.locator("#reserve-sku-error").wait_for()
    said = await form.locator("#reserve-sku-error").text_content()
    assert f"No product has the SKU or barcode 'NO-SUCH-{sku}'" in said
    assert await form.get_by_label("Order reference").input_value() == "phone-1"  # what was typed stays

    await form.get_by_label("Product (SKU or barcode)").fill(sku)
    await form.get_by_label("Quantity").fill("9")
    await form.get_by_role("button", name="Reserve").click()
    await form.get_by_text("only 5 available").wait_for()
    assert (
        await form.locator("#reserve-quantity-error").text_content() == f"Cannot reserve 9 of {sku}: only 5 available"
    )

    await form.get_by_label("Quantity").fill("3")
    await form.get_by_label("Hold for").select_option(label="2 days")
    await form.get_by_role("button", name="Reserve").dblclick()  # a double-click holds once
    await form.get_by_text(f"Reserved 3 of {sku} for order phone-1").wait_for()
    row = tab.locator("#active-rows tr[data-reservation]")
    await row.first.wait_for()
    assert await row.count() == 1
    assert (await row.locator("td").all_inner_texts())[:5] == ["phone-1", sku, "3", "1 d 23 h", "active"]
    assert await form.get_by_label("Quantity").input_value() == ""  # a fresh form for the next call
    held = await reservations_of(api, sku)
    assert [(r["order_ref"], r["quantity"], r["status"]) for r in held] == [("phone-1", 3, "active")]
    assert (await summary(api, sku))["available"] == 2

    code = gtin(13)  # a barcode names its product here too, as on the entry form
    scanned = await make_product(api, name="Phone order biscuits", barcode=code)
    await record(api, scanned, "BUY", 4, "1.00")
    await form.get_by_label("Product (SKU or barcode)").fill(code)
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Order reference").fill("phone-2")
    await form.get_by_role("button", name="Reserve").click()
    await form.get_by_text(f"Reserved 1 of {scanned} for order phone-2").wait_for()
    assert (await summary(api, scanned))["reserved"] == 1

    # An order holds a product once: its cancelled hold is what the reference names, said as such.
    phone_2 = (await reservations_of(api, scanned))[0]["id"]
    assert (await api.post(f"/api/reservations/{phone_2}/cancel")).status_code == 200
    await form.get_by_label("Product (SKU or barcode)").fill(scanned)
    await form.get_by_label("Quantity").fill("1")
    await form.get_by_label("Order reference").fill("phone-2")
    await form.get_by_role("button", name="Reserve").click()
    said = f"Order phone-2's reservation of 1 {scanned} is cancelled: nothing was reserved."
    await form.get_by_text(said).wait_for()
    assert (await summary(api, scanned))["reserved"] == 0
    assert await tab.evaluate("window.sameDocument") is True
    assert tab.errors == []
    await context.close()


async def test_confirming_and_cancelling_take_the_row_out_of_the_active_table(api, server, browser):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    first = (await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "web-1"})).json()
    second = (await api.post("/api/reservations", json={"sku": sku, "quantity": 3, "order_ref": "web-2"})).json()
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    await tab.evaluate("window.sameDocument = true")
    active, recent = tab.locator("#active"), tab.locator("#recent")

    row = active.locator(f"#reservation-{first['id']}")
    await row.get_by_placeholder("unit price").fill("6.50")
    await row.get_by_role("button", name="Confirm").click()
    await recent.locator(f"#reservation-{first['id']} .badge.confirmed").wait_for()
    assert await active.locator(f"#reservation-{first['id']}").count() == 0
    said = await tab.locator("#reservations-notice").text_content()
    # (where from, while the shared database has several locations: other tests add some)
    assert re.fullmatch(rf"Confirmed order web-1: a sale of 2 {sku}( from MAIN)? at 6\.50\.", said or ""), said
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "SELL"]

    cancel = active.locator(f"#reservation-{second['id']}").get_by_role("button", name="Cancel")
    await cancel.click()  # asked first; "no" keeps it
    assert tab.dialogs == [f"Cancel order web-2 (3 of {sku})? The stock it holds is released."]
    await tab.wait_for_timeout(300)
    assert await active.locator(f"#reservation-{second['id']}").count() == 1
    assert (await summary(api, sku))["reserved"] == 3
    tab.answer = "accept"
    await cancel.click()
    await recent.locator(f"#reservation-{second['id']} .badge.cancelled").wait_for()
    assert await active.locator("tr[data-reservation]").count() == 0
    assert await active.get_by_text("No active reservations.").is_visible()
    assert "Cancelled order web-2" in await tab.locator("#reservations-notice").text_content()
    assert (await summary(api, sku))["reserved"] == 0
    assert await recent.locator("tr[data-reservation]").count() == 2
    assert not await recent.get_by_text("Nothing yet.").is_visible()
    assert await tab.evaluate("window.sameDocument") is True  # in place, no reload
    assert tab.errors == []
    await context.close()


async def test_without_javascript_cancel_asks_on_a_page_of_its_own(api, server, browser):
    sku = await make_product(api)
    await record(api, sku, "BUY", 4, "1.00")
    held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "shop-9"})).json()
    context, tab = await clerk_tab(browser, server, java_script_enabled=False)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    await tab.locator(f"#reservation-{held['id']}").get_by_role("button", name="Cancel").click()
    await tab.get_by_role("heading", name="Cancel order shop-9?").wait_for()
    assert (await summary(api, sku))["reserved"] == 1  # nothing cancelled yet
    await tab.get_by_role("link", name="Keep it").click()
    await tab.locator(f"#active #reservation-{held['id']}").wait_for()
    await tab.locator(f"#reservation-{held['id']}").get_by_role("button", name="Cancel").click()
    await tab.get_by_role("button", name="Cancel order shop-9").click()
    await tab.locator(f"#recent #reservation-{held['id']} .badge.cancelled").wait_for()
    assert (await summary(api, sku))["reserved"] == 0
    await context.close()


async def test_times_left_read_in_days_and_hours(api, server, browser):
    sku = await make_product(api)
    await record(api, sku, "BUY", 9, "1.00")
    week = 7 * 86400 - 5 * 60  # 6 days 23 hours 55 minutes
    for order, ttl in (("long", week), ("day", 26 * 3600 + 30 * 60), ("hour", 90 * 60), ("soon", 100)):
        r = await api.post(
            "/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": order, "ttl_seconds": ttl}
        )
        assert r.status_code == 201, r.text
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    shown = {}
    for tr in await tab.locator("#active tr[data-reservation]").all():
        cells = await tr.locator("td").all_inner_texts()
        shown[cells[0]] = cells[3]
    assert shown["long"] == "6 d 23 h"  # was "167 h 55 min"
    assert shown["day"] == "1 d 2 h"
    assert shown["hour"] in ("89 min", "90 min")
    assert shown["soon"].endswith(" s") and 90 <= int(shown["soon"][:-2]) <= 100
    row = tab.locator("#active tr[data-reservation]", has_text="hour")
    await row.get_by_placeholder("unit price").fill("4.80")
    await row.get_by_role("button", name="Confirm").click()
    await tab.locator("#recent tr[data-reservation]", has_text="hour").wait_for()
    await tab.screenshot(path=screenshot_path("reservations"), full_page=True)
    await context.close()


async def test_a_viewer_sees_no_form_to_hold_stock(api, server, browser):
    context = await signed_in(browser, server.url, "viewer1")
    tab = await context.new_page()
    await tab.goto(f"{server.url}/reservations?sku={new_sku()}")
    assert await tab.get_by_role("heading", name="Active").is_visible()
    assert await tab.locator("#reserve").count() == 0
    await context.close()


async def test_an_open_reservations_page_shows_holds_made_and_ended_elsewhere(api, server, browser):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    await tab.evaluate("window.sameDocument = true")
    await tab.locator('body[data-holds-live="connected"]').wait_for(state="attached")

    made = (await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "elsewhere-1"})).json()
    row = tab.locator(f"#active #reservation-{made['id']}")
    await row.wait_for(timeout=5000)  # another window (here the API) made it: this page shows it
    assert (await row.locator("td").all_inner_texts())[:3] == ["elsewhere-1", sku, "2"]

    await api.post(f"/api/reservations/{made['id']}/cancel")
    await tab.locator(f"#recent #reservation-{made['id']} .badge.cancelled").wait_for(timeout=5000)
    assert await tab.locator(f"#active #reservation-{made['id']}").count() == 0  # no stale Confirm button

    # A price typed into a row is never wiped by a redraw, even once the focus has gone on to Confirm.
    kept = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "typed-1"})).json()
    price = tab.locator(f"#active #reservation-{kept['id']}").get_by_placeholder("unit price")
    await price.fill("12.30")
    await price.press("Tab")
    later = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "later-1"})).json()
    await tab.wait_for_timeout(2500)  # a redraw would have come by now
    assert await price.input_value() == "12.30"
    await tab.locator("#holds-waiting").wait_for(state="visible", timeout=5000)  # the page says it waits
    await price.fill("")  # given up: the tables may be drawn again, and show what came meanwhile
    await price.blur()
    await tab.locator(f"#active #reservation-{later['id']}").wait_for(timeout=5000)
    await tab.locator("#holds-waiting").wait_for(state="hidden", timeout=5000)
    assert await tab.evaluate("window.sameDocument") is True
    assert tab.errors == []
    await context.close()


async def test_a_refused_price_stays_to_be_corrected_and_holds_back_the_redraw_until_then(api, server, browser):
    sku, held, context, tab = await a_hold_on_a_clerks_page(api, server, browser, "fix-1")
    row = tab.locator(f"#active #reservation-{held['id']}")
    await row.get_by_placeholder("unit price").fill("-4.50")
    await row.get_by_role("button", name="Confirm").click()
    await row.locator("p.error", has_text="Unit price must not be negative").wait_for(timeout=5000)
    assert await row.get_by_placeholder("unit price").input_value() == "-4.50"  # kept, to be corrected
    other = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "fix-2"})).json()
    await tab.locator("#holds-waiting").wait_for(state="visible", timeout=5000)  # the redraw waits for it
    assert await row.get_by_placeholder("unit price").input_value() == "-4.50"
    assert await row.locator("p.error").count() == 1
    await row.get_by_placeholder("unit price").fill("4.50")
    await row.get_by_role("button", name="Confirm").click()
    await tab.locator(f"#recent #reservation-{held['id']} .badge.confirmed").wait_for(timeout=5000)
    await tab.locator(f"#active #reservation-{other['id']}").wait_for(timeout=5000)  # drawn once free
    await tab.locator("#holds-waiting").wait_for(state="hidden", timeout=5000)
    assert [(r["type"], r["unit_price"]) for r in await timeline(api, sku)][1:] == [("SELL", "4.5000")]
    assert tab.errors == []
    await context.close()


async def test_a_redraw_asked_for_before_a_price_was_typed_does_not_wipe_it_when_it_comes(api, server, browser):
    sku, held, context, tab = await a_hold_on_a_clerks_page(api, server, browser, "slow-1")
    # The page's redraw (an htmx GET of the page) is held on its way until the price is typed.
    asked, release = asyncio.Event(), asyncio.Event()

    async def hold_back(route):
        asked.set()
        await release.wait()
        await route.continue_()

    def redraw(url):
        return "/reservations?" in url

    await tab.route(redraw, hold_back)
    other = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "slow-2"})).json()
    await asyncio.wait_for(asked.wait(), 10)  # the redraw is on its way
    price = tab.locator(f"#active #reservation-{held['id']}").get_by_placeholder("unit price")
    await price.fill("7.25")
    await price.blur()
    async with tab.expect_response(lambda r: "/reservations?" in r.url):
        release.set()
    await tab.locator("#holds-waiting").wait_for(state="visible", timeout=5000)
    assert await price.input_value() == "7.25"  # not swapped away under the clerk's hands
    await tab.unroute(redraw, hold_back)
    await price.fill("")
    await price.blur()
    await tab.locator(f"#active #reservation-{other['id']}").wait_for(timeout=5000)
    assert tab.errors == []
    await context.close()


async def test_a_confirm_refused_because_the_hold_ended_elsewhere_keeps_its_reason_after_the_tables_redraw(
    api, server, browser
):
    sku, held, context, tab = await a_hold_on_a_clerks_page(api, server, browser, "gone-1")
    row = tab.locator(f"#active #reservation-{held['id']}")
    await row.get_by_placeholder("unit price").fill("3.00")  # typed: the tables wait for it
    assert (await api.post(f"/api/reservations/{held['id']}/cancel")).status_code == 200  # another window
    await row.get_by_role("button", name="Confirm").click()
    said = "Order gone-1's reservation of " + sku + " is cancelled and cannot be confirmed"
    # The refused row is drawn again, then the tables (the hold ended): it moves to Recent, and the
    # reason stays above the tables.
    await tab.locator(f"#recent #reservation-{held['id']} .badge.cancelled").wait_for(timeout=5000)
    await tab.wait_for_timeout(1500)  # any redraw still due has come
    notice = tab.locator("#reservations-notice")
    assert await notice.get_attribute("role") == "alert" and said in await notice.inner_text()
    assert await tab.locator(f"#active #reservation-{held['id']}").count() == 0
    await tab.screenshot(path=screenshot_path("reservations-refused-confirm-kept"), full_page=True)
    assert tab.errors == []
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY"]
    await context.close()


async def test_a_long_order_reference_wraps_in_its_cell_on_a_desk(api, server, browser):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    long_ref = "X" * 100  # the longest the form takes, with no space to break at
    held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": long_ref})).json()
    context, tab = await clerk_tab(browser, server)
    await tab.goto(f"{server.url}/reservations?sku={sku}")
    card = tab.locator("#active").locator("xpath=..")
    await tab.locator(f"#active #reservation-{held['id']}").wait_for()
    widths = await card.evaluate("c => [c.scrollWidth, c.clientWidth]")
    assert widths[0] <= widths[1], f"the Active table is {widths[0]} px wide in a {widths[1]} px card"
    await expect_visible(tab.locator(f"#active #reservation-{held['id']}").get_by_role("button", name="Confirm"))
    await tab.screenshot(path=screenshot_path("reservations-long-order-ref"), full_page=True)
    assert tab.errors == []
    await context.close()


async def expect_visible(locator):
    box = await locator.bounding_box()
    assert box is not None and box["width"] > 0
