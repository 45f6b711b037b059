"""A store's clerk in a real browser (issue 15): the admin limits a new user to a store on /admin, and
the clerk's sale at the counter, naming no location, lands at that store."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot_path, signed_in
from tests.integration.helpers import make_product, record, summary, timeline

pytestmark = pytest.mark.e2e


async def test_the_admin_limits_a_clerk_to_a_store_and_their_sale_lands_there(api, server, browser):
    store = f"S-{uuid.uuid4().hex[:8]}"
    assert (await api.post("/api/locations", json={"code": store, "name": f"Store {store}"})).status_code == 201
    sku = await make_product(api, name=f"Store tea {store}")
    await record(api, sku, "BUY", 8, "2.00", at="2026-01-01T09:00:00+00:00")
    await record(api, sku, "TRANSFER", 3, at="2026-01-02T09:00:00+00:00", to_location=store)

    admin = await signed_in(browser, server.url, "admin1", viewport={"width": 1200, "height": 900})
    tab = await admin.new_page()
    await tab.goto(f"{server.url}/admin")
    name = f"store-clerk-{uuid.uuid4().hex[:6]}"
    form = tab.locator("form", has=tab.get_by_role("button", name="Add user"))
    await form.get_by_label("Username").fill(name)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_label("Role").select_option("clerk")
    await form.get_by_label("Location").select_option(store)
    await form.get_by_role("button", name="Add user").click()
    await tab.get_by_role("status").get_by_text(f"Added user {name} (clerk, recording only at {store}).").wait_for()
    assert await tab.get_by_label(f"Location of {name}").input_value() == store
    await tab.screenshot(path=screenshot_path("admin-user-location"), full_page=True)
    await admin.close()

    clerk = await signed_in(browser, server.url, name, viewport={"width": 1100, "height": 900})
    counter = await clerk.new_page()
    await counter.goto(f"{server.url}/transactions/new")
    await counter.get_by_label("Product").fill(sku)
    await counter.get_by_label("Product").press("Enter")  # an exact SKU is picked at once
    await expect(counter.locator("#chosen")).to_contain_text(sku)
    await counter.get_by_label("Unit price").fill("4.00")
    await counter.get_by_label("Product").press("Enter")
    await expect(counter.locator("#recorded")).to_be_visible()
    await clerk.close()

    sold = (await timeline(api, sku))[-1]
    assert (sold["type"], sold["location"], sold["location_stock_after"]) == ("SELL", store, 2)
    assert {x["location"]: x["on_hand"] for x in (await summary(api, sku))["locations"]} == {"MAIN": 5, store: 2}
