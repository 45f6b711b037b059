"""Stock locations in a real browser (issue 15): a manager adds locations and moves stock on the
transfer page (with and without JavaScript, through a transit location), the dashboard filters by
location and totals each one, the product page shows stock per location; and a shop with one
location sees none of it."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD, bearer, inventory_cli, server_on_a_cluster_of_its_own
from tests.e2e.conftest import keep_in_docs, screenshot_path, signed_in
from tests.integration.helpers import make_product, record, summary

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


async def new_location(api, kind: str = "storage") -> str:
    code = f"L-{uuid.uuid4().hex[:8].upper()}"
    r = await api.post("/api/locations", json={"code": code, "name": f"Store {code}", "kind": kind})
    assert r.status_code == 201, r.text
    return code


def stock_by_location(product) -> dict[str, int]:
    return {x["location"]: x["on_hand"] for x in product["locations"]}


async def test_a_manager_adds_a_location_on_the_locations_page(api, server, page):
    code = f"L-{uuid.uuid4().hex[:8].upper()}"
    await page.goto(f"{server.url}/")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Locations").click()
    await page.wait_for_url(f"{server.url}/locations")
    form = page.locator("#new-location")
    await form.get_by_label("Code").fill("MAIN")
    await form.get_by_label("Name").fill("Another main")
    await form.get_by_role("button", name="Add").click()
    await form.locator("#l-code-error").wait_for()
    assert "exists already" in await form.locator("#l-code-error").text_content()
    await form.get_by_label("Code").fill(code)
    await form.get_by_label("Name").fill("Van to the High Street")
    await form.get_by_label("Kind").select_option("transit")
    await page.screenshot(path=screenshot_path("locations"), full_page=True)
    await form.get_by_role("button", name="Add").click()
    await page.get_by_text(f"Added {code} (Van to the High Street, transit)").wait_for()
    row = page.locator(f'#locations tr[data-location="{code}"]')
    assert (await row.locator("td").all_inner_texts())[:3] == [code, "Van to the High Street", "transit"]
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-locations"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    listed = (await api.get("/api/locations")).json()["items"]
    assert {"code": code, "kind": "transit"}.items() <= next(x for x in listed if x["code"] == code).items()


async def test_a_transfer_through_the_page_shows_the_stock_at_both_places(api, server, page):
    sku = await make_product(api, name="Moved tea")
    store, van = await new_location(api), await new_location(api, "transit")
    await record(api, sku, "BUY", 10, "2.00")
    await page.goto(f"{server.url}/transfers/new?sku={sku}")
    await page.evaluate("window.sameDocument = true")
    form = page.locator("#transfer-form")
    assert await form.get_by_label("From").input_value() == "MAIN"  # the product's default location
    await form.get_by_label("Product").fill("NO-SUCH-" + sku)
    await form.get_by_label("Product").dispatch_event("change")
    await page.get_by_text(f"No product has the SKU or barcode “NO-SUCH-{sku}”").wait_for()
    await form.get_by_label("Product").fill(sku)
    await form.get_by_label("Product").dispatch_event("change")
    await page.locator("#transfer-stock dl.ends").wait_for()
    await form.get_by_label("To").select_option(van)
    await page.locator(f'#transfer-stock [data-end="to"][data-location="{van}"]').wait_for()
    assert await page.locator('#transfer-stock [data-end="from"] [data-field="on_hand"]').text_content() == "10"
    assert await page.locator('#transfer-stock [data-end="to"] [data-field="on_hand"]').text_content() == "0"

    await form.get_by_label("Quantity").fill("0")
    await form.get_by_role("button", name="Move").click()
    await page.locator("#t-quantity-error").wait_for()
    assert "greater than zero" in await page.locator("#t-quantity-error").text_content()

    await page.locator("#transfer-form").get_by_label("Quantity").fill("12")  # more than MAIN has: a 409
    await page.locator("#transfer-form").get_by_role("button", name="Move").click()
    await page.locator("#problem").wait_for()
    assert "MAIN" in await page.locator("#problem").text_content()
    assert await page.locator("#transfer-form").get_by_label("Quantity").input_value() == "12"  # kept as typed
    await page.screenshot(path=screenshot_path("transfer-refused"), full_page=True)

    # Ship 6 into the van, then receive them at the store: two transfers through a transit location.
    await page.locator("#transfer-form").get_by_label("Quantity").fill("6")
    await page.locator("#transfer-form").get_by_role("button", name="Move").dblclick()  # a double-click moves once
    await page.get_by_text(f"from MAIN to {van}").wait_for()
    assert "MAIN now 4" in await page.locator("#moved").inner_text()
    form = page.locator("#transfer-form")
    await form.get_by_label("From").select_option(van)
    await form.get_by_label("To").select_option(store)
    await page.locator(f'#transfer-stock [data-end="to"][data-location="{store}"]').wait_for()
    assert await page.locator('#transfer-stock [data-end="from"] [data-field="on_hand"]').text_content() == "6"
    await form.get_by_label("Quantity").fill("6")
    await form.get_by_label("Note").fill("received")
    await page.screenshot(path=screenshot_path("transfer"), full_page=True)
    keep_in_docs("transfer")
    await form.get_by_role("button", name="Move").click()
    await page.get_by_text(f"from {van} to {store}").wait_for()
    assert await page.evaluate("window.sameDocument") is True  # every step answered in place
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 4, van: 0, store: 6}

    # The product page: stock per location, and where each row happened.
    await page.goto(f"{server.url}/products/{sku}")
    table = page.locator("#stock-by-location")
    assert await table.locator(f'tr[data-location="{store}"] td').all_inner_texts() == [store, "6", "0", "6"]
    assert "(default)" in await table.locator('tr[data-location="MAIN"] td').first.inner_text()
    moved_in = page.locator("#timeline tbody tr").first.locator("td.location")
    assert await moved_in.inner_text() == f"{van} (0) → {store} (6)"
    await page.screenshot(path=screenshot_path("product-locations"), full_page=True)

    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-product-locations"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await page.set_viewport_size({"width": 1200, "height": 900})

    # A transfer edited in place keeps its places unless told otherwise (both rechecked).
    await page.locator("#timeline tbody tr").first.get_by_role("link", name="Edit").click()
    editing = page.locator("tr.editing")
    assert await editing.get_by_label("From").input_value() == van
    assert await editing.get_by_label("To").input_value() == store
    await editing.get_by_label("Quantity").fill("5")
    await editing.get_by_role("button", name="Save").click()
    await page.locator(f'#stock-by-location tr[data-location="{store}"] td:nth-child(2)', has_text="5").wait_for()
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 4, van: 1, store: 5}


async def test_a_transfer_works_without_javascript(api, server, browser, problems):
    sku = await make_product(api)
    store = await new_location(api)
    await record(api, sku, "BUY", 3, "2.00")
    problems.expect_status(409, "/transfers/new")
    context = await signed_in(browser, server.url, "manager1", java_script_enabled=False,
                              viewport={"width": 1200, "height": 900})  # fmt: skip
    tab = await context.new_page()
    problems.watch(tab)
    await tab.goto(f"{server.url}/transfers/new?sku={sku}&to_location={store}")
    form = tab.locator("#transfer-form")
    await form.get_by_label("Quantity").fill("5")
    await form.get_by_role("button", name="Move").click()
    await tab.locator("#problem").wait_for()  # the page again, as sent, with the stock at both places
    assert "MAIN" in await tab.locator("#problem").text_content()
    assert await tab.locator('#transfer-stock [data-end="from"] [data-field="on_hand"]').text_content() == "3"
    assert await tab.locator("#transfer-form").get_by_label("To").input_value() == store
    await tab.locator("#transfer-form").get_by_label("Quantity").fill("2")
    await tab.locator("#transfer-form").get_by_role("button", name="Move").click()
    await tab.wait_for_url("**/transfers/new?done=*")  # a plain POST redirects: a reload repeats nothing
    assert f"from MAIN to {store}" in await tab.locator("#moved").inner_text()
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 1, store: 2}
    await tab.set_viewport_size(PHONE)
    await tab.screenshot(path=screenshot_path("phone-transfer"), full_page=True)
    await context.close()


async def test_the_dashboard_filters_by_location_and_totals_each(api, server, page):
    tag = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])  # letters only
    store = await new_location(api)
    first = await make_product(api, name=f"Loc {tag} one")
    second = await make_product(api, name=f"Loc {tag} two")
    third = await make_product(api, name=f"Loc {tag} three")  # never at the store
    for sku, units in ((first, 10), (second, 5), (third, 2)):
        await record(api, sku, "BUY", units, "1.00")
    await record(api, first, "TRANSFER", 4, to_location=store)
    await record(api, second, "TRANSFER", 5, to_location=store)

    await page.goto(f"{server.url}/?q={tag}")
    totals = page.locator("#location-totals")
    assert await totals.locator('tr[data-location="MAIN"] td').all_inner_texts() == ["MAIN", "8", "0", "8", "8.00"]
    assert await totals.locator(f'tr[data-location="{store}"] td').all_inner_texts() == [store, "9", "0", "9", "9.00"]
    await page.locator("#filters").get_by_label("Location").select_option(store)  # htmx swaps the table
    await page.wait_for_url(f"**location={store}*")
    await page.locator(f'#products[data-location="{store}"]').wait_for()
    rows = page.locator("#products tbody tr[data-sku]")
    assert sorted(await rows.evaluate_all("rs => rs.map(r => r.dataset.sku)")) == sorted([first, second])
    on_hand = page.locator(f'#products tr[data-sku="{first}"] [data-field="on_hand"]')
    assert await on_hand.text_content() == "4"
    value = page.locator(f'#products tr[data-sku="{first}"] [data-field="inventory_value"]')
    assert await value.text_content() == "4.00"  # its 4 units there at its cost, not its 10 everywhere
    assert await page.locator('#products [data-total="on_hand"]').text_content() == "9"
    assert await page.locator('#products [data-total="inventory_value"]').text_content() == "9.00"
    # Every location's sums, over every product the other filters match (not only those at the store)
    assert await totals.locator('tr[data-location="MAIN"] td').all_inner_texts() == ["MAIN", "8", "0", "8", "8.00"]
    assert await page.locator(f'#location-totals tr[data-location="{store}"]').get_attribute("aria-current") == "true"
    await page.screenshot(path=screenshot_path("dashboard-location"), full_page=True)
    keep_in_docs("dashboard-location")

    await page.locator('[data-live-state="connected"]').wait_for(state="attached")
    await record(api, first, "SELL", 3, "2.00", location=store)  # live: the row shows the store's stock
    await page.wait_for_function(
        "sku => document.querySelector(`#products tr[data-sku='${sku}'] [data-field='on_hand']`).textContent === '1'",
        arg=first,
    )
    assert await page.locator('#products [data-total="on_hand"]').text_content() == "6"
    await expect(value).to_have_text("1.00")
    await expect(page.locator('#products [data-total="inventory_value"]')).to_have_text("6.00")
    # ... and the totals by location follow (asked for again after the live event, at most once a second)
    store_row = totals.locator(f'tr[data-location="{store}"] td')
    await expect(store_row).to_have_text([store, "6", "0", "6", "6.00"])
    await record(api, first, "SELL", 1, "2.00")  # at MAIN: its row (the store's) stays, MAIN's total falls
    await expect(totals.locator('tr[data-location="MAIN"] td')).to_have_text(["MAIN", "7", "0", "7", "7.00"])
    assert await page.locator(f'#location-totals tr[data-location="{store}"]').get_attribute("aria-current") == "true"
    await page.screenshot(path=screenshot_path("dashboard-location-live"), full_page=True)
    await page.reload()  # the totals by location are kept until a change: these were heard
    assert await totals.locator(f'tr[data-location="{store}"] td').all_inner_texts() == [store, "6", "0", "6", "6.00"]
    assert await totals.locator('tr[data-location="MAIN"] td').all_inner_texts() == ["MAIN", "7", "0", "7", "7.00"]

    await page.goto(f"{server.url}/?q={tag}&location={store}&sort=on_hand&dir=desc")  # sorted by the store's stock
    assert await rows.evaluate_all("rs => rs.map(r => r.dataset.sku)") == [second, first]
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-dashboard-location"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_the_record_form_asks_where_while_there_are_several_locations(api, server, page):
    sku = await make_product(api, sell_price="3.00")
    store = await new_location(api)
    await record(api, sku, "BUY", 5, "1.00")
    await record(api, sku, "TRANSFER", 2, to_location=store)
    await page.goto(f"{server.url}/transactions/new?sku={sku}")
    form = page.locator("form.counter")
    assert await form.get_by_label("Location").input_value() == "MAIN"  # the product's default
    assert "TRANSFER" not in await form.get_by_label("Type").locator("option").all_inner_texts()
    await form.get_by_label("Location").select_option(store)
    await form.get_by_label("Quantity").fill("3")  # the store has 2
    await form.get_by_role("button", name="Record").click()
    await page.locator("#problem").wait_for()
    assert store in await page.locator("#problem").text_content()
    await form.get_by_label("Quantity").fill("2")
    await page.screenshot(path=screenshot_path("entry-form-location"), full_page=True)
    await form.get_by_role("button", name="Record").click()
    await page.locator("#recorded").wait_for()
    assert f"at {store} (0 there)" in await page.locator("#recorded").inner_text()
    assert await page.locator("form.counter").get_by_label("Location").input_value() == store  # kept for the next
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 3, store: 0}
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-entry-form-location"), full_page=True)
    await page.set_viewport_size({"width": 1200, "height": 900})

    # A product's default location is set on its settings page; the record form proposes it.
    await page.goto(f"{server.url}/products/{sku}/settings")
    await page.get_by_label("Default location").select_option(store)
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_url(f"{server.url}/products/{sku}?done=settings")
    await expect(page.locator("#saved-notice")).to_have_text("Settings saved.")
    assert (await summary(api, sku))["default_location"] == store
    await page.goto(f"{server.url}/transactions/new?sku={sku}")
    assert await page.locator("form.counter").get_by_label("Location").input_value() == store


async def test_a_shop_with_one_location_sees_no_location_control(browser, problems):
    with server_on_a_cluster_of_its_own("srl-", "solo-admin") as (_, url, token):
        async with httpx.AsyncClient(base_url=url, timeout=60, headers=bearer(token)) as api:
            sku = await make_product(api, name="Only here")
            await record(api, sku, "BUY", 4, "1.00")
            await record(api, sku, "SELL", 1, "2.00")
        context = await signed_in(browser, url, "solo-admin", viewport={"width": 1200, "height": 900})
        tab = await context.new_page()
        problems.watch(tab)
        try:
            await tab.goto(f"{url}/")
            assert await tab.locator("select#location, #location-totals, #products caption").count() == 0
            assert await tab.get_by_text("Move stock").count() == 0
            await tab.goto(f"{url}/?location=MAIN")  # a hand-made URL filters nothing
            assert await tab.locator("#products tbody tr[data-sku]").count() == 1
            assert await tab.locator("#products[data-location]").count() == 0
            await tab.goto(f"{url}/transactions/new?sku={sku}")
            form = tab.locator("form.counter")
            assert await form.locator("[name=location]").count() == 0
            assert await form.get_by_label("Type").locator("option").all_inner_texts() == ["BUY", "SELL", "ADJUST",
                                                                                          "COUNT"]  # fmt: skip
            await tab.goto(f"{url}/products/{sku}")
            assert await tab.locator("#stock-by-location, td.location, #add [name=location]").count() == 0
            assert await tab.get_by_text("Move stock").count() == 0
            assert await tab.locator("#timeline thead th").count() == 10
            assert "TRANSFER" not in await tab.locator("#add-type option").all_inner_texts()
            await tab.locator("#timeline tbody tr").first.get_by_role("link", name="Edit").click()
            await tab.locator("tr.editing").wait_for()
            assert await tab.locator("tr.editing [name=location], tr.editing [name=to_location]").count() == 0
            assert "TRANSFER" not in await tab.locator("tr.editing select[name=type] option").all_inner_texts()
            await tab.goto(f"{url}/transfers/new")
            assert await tab.locator("#transfer-form").count() == 0
            assert await tab.get_by_text("There is one location, MAIN").count() == 1
            # The manager's Locations link stays (it is how the second location is added); nothing else.
            nav = tab.get_by_role("navigation", name="Main")
            assert await nav.get_by_role("link", name="Locations").count() == 1
            await tab.goto(f"{url}/import")  # the column guide: no location columns, no TRANSFER
            guide = tab.locator("dl.columns-needed")
            names = await guide.locator("dt code").all_inner_texts()
            assert "sku" in names and "location" not in names and "to_location" not in names
            assert "TRANSFER" not in await guide.inner_text()
            await tab.screenshot(path=screenshot_path("import-one-location"), full_page=True)
            await tab.goto(f"{url}/products/{sku}/settings")
            assert await tab.get_by_label("Default location").count() == 0
            await tab.goto(f"{url}/reservations")
            assert await tab.locator("#reserve [name=location]").count() == 0
            await tab.goto(f"{url}/reports")
            assert await tab.get_by_role("link", name="Replenishment").count() == 0
        finally:
            await context.close()
    problems.check()


async def test_a_store_clerk_records_at_the_store_without_choosing(api, server, browser, database_url, problems):
    sku = await make_product(api, sell_price="4.00")
    store = await new_location(api)
    await record(api, sku, "BUY", 5, "1.00")
    await record(api, sku, "TRANSFER", 3, to_location=store)
    clerk = f"clerk-{uuid.uuid4().hex[:8]}"
    inventory_cli("user", "create", clerk, "--role", "clerk", "--location", store, stdin=PASSWORD + "\n",
                  INVENTORY_DATABASE_URL=database_url)  # fmt: skip
    context = await signed_in(browser, server.url, clerk, viewport=PHONE)
    tab = await context.new_page()
    problems.watch(tab)
    await tab.goto(f"{server.url}/transactions/new?sku={sku}")
    form = tab.locator("form.counter")
    assert await form.get_by_label("Location").count() == 0  # no choice: theirs
    assert await form.get_by_text(f"At {store}").count() == 1
    await form.get_by_label("Quantity").fill("2")
    await tab.screenshot(path=screenshot_path("phone-entry-form-store-clerk"), full_page=True)
    await form.get_by_role("button", name="Record").click()
    await tab.locator("#recorded").wait_for()
    assert f"at {store} (1 there)" in await tab.locator("#recorded").inner_text()
    assert stock_by_location(await summary(api, sku)) == {"MAIN": 2, store: 1}
    await tab.locator("#sku").fill(sku[:-1])  # the suggestions say what is left at the store, not in all
    await tab.get_by_text(f"1 available at {store}").first.wait_for()
    await tab.goto(f"{server.url}/products/{sku}")
    assert await tab.locator("#add select[name=location]").count() == 0
    assert await tab.locator("#add input[type=hidden][name=location]").get_attribute("value") == store
    assert await tab.locator("#add").get_by_text(f"At {store}").count() == 1  # as the record page says it
    await tab.screenshot(path=screenshot_path("phone-product-store-clerk"), full_page=True)
    await context.close()


async def test_reports_by_location_and_replenishment(api, server, page):
    sku = await make_product(api, name="Replenished tea", low_stock_threshold=3)
    store = await new_location(api)
    await record(api, sku, "BUY", 10, "2.00")
    await record(api, sku, "TRANSFER", 2, to_location=store)
    r = await api.put(f"/api/products/{sku}/locations/{store}", json={"min_stock": 5})
    assert r.status_code == 200, r.text
    await page.goto(f"{server.url}/reports")
    await page.get_by_role("link", name="Replenishment").click()
    row = page.locator(f'table.report tr[data-sku="{sku}"]')
    await row.wait_for()
    cells = await row.locator("td").all_inner_texts()
    assert cells[2:7] == [store, "2", "5", "3", "3"] and cells[7].startswith("MAIN (8)")
    await page.screenshot(path=screenshot_path("report-replenishment"), full_page=True)

    await page.goto(f"{server.url}/reports/low-stock")  # at the store, 2 available: low there (threshold 3)
    await page.get_by_label("Location").select_option(store)
    await page.get_by_role("button", name="Show").click()
    await page.wait_for_url(f"**/reports/low-stock?location={store}")
    assert await page.get_by_role("heading", name=f"Low stock · at {store}").count() == 1
    row = page.locator(f'table.report tr[data-sku="{sku}"]')
    assert (await row.locator("td").all_inner_texts())[2:5] == ["2", "0", "2"]
    assert await page.get_by_role("link", name="Download CSV").get_attribute("href") == (
        f"/api/reports/low-stock?location={store}&format=csv"
    )
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-report-low-stock-location"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def test_a_phone_order_is_held_at_a_location_from_the_reservations_page(api, server, page):
    sku = await make_product(api)
    store = await new_location(api)
    await record(api, sku, "BUY", 10, "1.00")
    await record(api, sku, "TRANSFER", 3, to_location=store)
    await page.goto(f"{server.url}/reservations?sku={sku}")
    form = page.locator("#reserve")
    await form.get_by_label("Product (SKU or barcode)").fill(sku)
    await form.get_by_label("Quantity").fill("4")  # the store has 3
    await form.get_by_label("Order reference").fill("store-1")
    await form.get_by_label("Location").select_option(store)
    await form.get_by_role("button", name="Reserve").click()
    await page.locator("#reserve-quantity-error").wait_for()
    assert await page.locator("#reserve").get_by_label("Location").input_value() == store  # kept as chosen
    await page.locator("#reserve").get_by_label("Quantity").fill("2")
    await page.locator("#reserve").get_by_role("button", name="Reserve").click()
    await page.get_by_text(f"Reserved 2 of {sku} at {store} for order store-1").wait_for()
    row = page.locator("#active-rows tr[data-reservation]").first
    assert await row.locator("td").nth(1).inner_text() == f"{sku} at {store}"
    held = {x["location"]: x for x in (await summary(api, sku))["locations"]}
    assert (held[store]["reserved"], held[store]["available"]) == (2, 1)
    await page.screenshot(path=screenshot_path("reservations-location"), full_page=True)


async def test_the_dashboard_fits_its_card_at_1280_and_at_phone_width(api, server, page):
    """Eleven columns, a long name and both dates: nothing overflows the card, "Last sale" shows whole
    (a new-user trial saw it cut off at 1280 px, "Nov 30, 2026 14"), with and without a location."""
    tag = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])
    store = await new_location(api)
    sku = await make_product(api, name=f"Fits {tag} a rather long product name for its column")
    await record(api, sku, "BUY", 10, "2.00")
    await record(api, sku, "TRANSFER", 4, to_location=store)
    await record(api, sku, "SELL", 1, "3.00", location=store)
    await record(api, sku, "COUNT", 6)
    fits = """() => {
      const card = document.getElementById("products-table"), box = card.getBoundingClientRect();
      const cells = [...document.querySelectorAll("#products tbody tr[data-sku] td")].filter(td => td.offsetParent);
      return {card: card.scrollWidth - card.clientWidth, page: document.documentElement.scrollWidth - innerWidth,
              outside: cells.filter(td => td.getBoundingClientRect().right > box.right + 0.5).length};
    }"""
    for width, height, name in ((1280, 900, "dashboard-1280"), (390, 844, "phone-dashboard-fits")):
        await page.set_viewport_size({"width": width, "height": height})
        for query in (f"?q={tag}", f"?q={tag}&location={store}"):
            await page.goto(f"{server.url}/{query}")
            assert await page.evaluate(fits) == {"card": 0, "page": 0, "outside": 0}, (width, query)
            if width == 1280:
                last_sale = page.locator(f'#products tr[data-sku="{sku}"] td[data-label="Last sale"]')
                assert re.search(r"\d{4}\s+\d{1,2}:\d{2}$", await last_sale.inner_text())  # the time, whole
            await page.screenshot(path=screenshot_path(name + ("-location" if "location" in query else "")),
                                  full_page=True)  # fmt: skip


async def test_a_split_confirm_shows_every_sale_with_its_location(api, server, page):
    """A hold naming no location, confirmed from three (one SELL each): the Recent list names every sale
    and where it sold from, and a confirm on the page says so (a trial saw only the first sale)."""
    sku = await make_product(api)
    back, store = await new_location(api), await new_location(api)
    await record(api, sku, "BUY", 3, "1.00")
    await record(api, sku, "BUY", 4, "1.00", location=back)
    await record(api, sku, "BUY", 2, "1.00", location=store)
    held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 9, "order_ref": "split-api"})).json()
    r = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "5.00"})
    assert r.status_code == 200, r.text
    sales = r.json()["transactions"]
    assert sorted((t["location"], t["quantity"]) for t in sales) == sorted([("MAIN", 3), (back, 4), (store, 2)])

    await page.goto(f"{server.url}/reservations?sku={sku}")
    row = page.locator(f"#recent #reservation-{held['id']}")
    listed = await row.locator("li[data-sale]").all_inner_texts()
    assert listed == [f"SELL #{t['id']}: {t['quantity']} from {t['location']}" for t in sales]
    assert "at 5.00 each" in await row.inner_text()

    await record(api, sku, "BUY", 1, "1.00")  # MAIN 1, the store 2: an order of 3 takes from both
    await record(api, sku, "BUY", 2, "1.00", location=store)
    second = (await api.post("/api/reservations", json={"sku": sku, "quantity": 3, "order_ref": "split-page"})).json()
    await page.reload()
    active = page.locator(f"#active #reservation-{second['id']}")
    await active.get_by_placeholder("unit price").fill("5.00")
    await active.get_by_role("button", name="Confirm").click()
    moved = page.locator(f"#recent #reservation-{second['id']}")
    await moved.locator(".badge.confirmed").wait_for()
    said = await page.locator("#reservations-notice").text_content()
    assert said == f"Confirmed order split-page: sales of 3 {sku} (1 from MAIN, 2 from {store}) at 5.00.", said
    texts = await moved.locator("li[data-sale]").all_inner_texts()
    assert [t.split(": ", 1)[1] for t in texts] == ["1 from MAIN", f"2 from {store}"]
    await page.screenshot(path=screenshot_path("reservations-split"), full_page=True)
    await page.set_viewport_size(PHONE)
    await page.screenshot(path=screenshot_path("phone-reservations-split"), full_page=True)
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
