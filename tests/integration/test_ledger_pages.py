"""The product page, in-place edits with previews, and the entry form, over real HTTP."""

from __future__ import annotations

import re

import pytest

from tests.integration.helpers import make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.integration
HTMX = {"HX-Request": "true"}
HTML = {"accept": "text/html"}


async def test_the_product_page_shows_summary_timeline_newest_first_monthly_and_chart(api):
    sku = await make_product(api, name="Widget")
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-05T09:00:00+00:00")
    await record(api, sku, "SELL", 4, "5.00", at="2026-02-05T09:00:00+00:00", note="counter sale")
    html = (await api.get(f"/products/{sku}")).text
    assert 'data-field="on_hand">6<' in html and "counter sale" in html
    assert html.index("2026-02-05") < html.index("2026-01-05")  # newest first
    assert "<svg" in html and 'class="line"' in html and "2026-02" in html


async def test_adding_from_the_product_page_without_javascript_redirects_back(api):
    sku = await make_product(api)
    r = await api.post(f"/products/{sku}/transactions", data={"type": "BUY", "quantity": "5", "unit_price": "1.20"})
    assert r.status_code == 303 and r.headers["location"] == f"/products/{sku}"
    assert (await summary(api, sku))["on_hand"] == 5


async def test_a_bad_entry_shows_each_error_beside_its_field(api):
    sku = await make_product(api)
    r = await api.post("/transactions/new", data={"sku": sku, "type": "SELL", "quantity": "1.5", "unit_price": "x"},
                       headers=HTML)  # fmt: skip
    assert r.status_code == 400
    assert re.search(r'id="quantity"[^>]*>\s*<span class="error">must be a whole number', r.text)
    assert re.search(r'id="unit_price"[^>]*>\s*<span class="error">must be a plain decimal', r.text)
    assert (await summary(api, sku))["transaction_count"] == 0


async def test_the_entry_form_records_and_is_ready_for_the_next_one(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "1.00")
    r = await api.post("/transactions/new", data={"sku": sku, "type": "SELL", "quantity": "2", "unit_price": "4.00"},
                       headers=HTMX)  # fmt: skip
    assert r.status_code == 200 and "Recorded SELL of 2" in r.text and "on hand now <strong>8</strong>" in r.text
    assert re.search(r'id="quantity" name="quantity" inputmode="numeric" required value=""', r.text)
    assert f'value="{sku}"' in r.text  # the product stays chosen


async def test_editing_a_past_price_previews_then_saves_and_refigures_later_rows(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-03-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 5, "5.00", at="2026-03-02T09:00:00+00:00")
    edit = (await api.get(f"/transactions/{buy['id']}/edit", headers=HTMX)).text
    at_default = re.search(r'name="at_default" value="([^"]+)"', edit).group(1)
    form = {"page_sku": sku, "at_default": at_default, "at": at_default, "type": "BUY", "quantity": "10",
            "unit_price": "3.00"}  # fmt: skip
    preview = await api.post(f"/transactions/{buy['id']}/preview", data=form, headers=HTMX)
    assert "realized P/L 15.00" in preview.text and "<strong>10.00</strong>" in preview.text
    assert (await summary(api, sku))["realized_pl"] == "15.00"  # a preview changes nothing
    saved = await api.post(f"/transactions/{buy['id']}", data=form, headers=HTMX)
    assert saved.status_code == 200 and 'id="tx-' in saved.text
    rows = {x["id"]: x for x in await timeline(api, sku)}
    assert (rows[sell["id"]]["cogs"], rows[sell["id"]]["realized_pl"]) == ("15.00", "10.00")
    assert rows[buy["id"]]["at"] == buy["at"]  # the untouched date was not rounded to the second


async def test_a_rejected_delete_is_explained_on_its_row(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 3, "2.00", at="2026-03-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 3, "5.00", at="2026-03-02T09:00:00+00:00")
    preview = await api.get(f"/transactions/{buy['id']}/delete", headers=HTMX)
    assert f'id="tx-{buy["id"]}"' in preview.text and "the sale of 3 on Mar 2, 2026 09:00" in preview.text
    assert f"transaction {sell['id']}" not in preview.text  # named as the timeline names it, not by id
    assert ">Delete</button>" not in preview.text
    forced = await api.post(f"/transactions/{buy['id']}/delete", data={"page_sku": sku}, headers=HTMX)
    assert forced.headers["hx-retarget"] == f"#tx-{buy['id']}" and "would leave stock at -3" in forced.text
    assert (await summary(api, sku))["transaction_count"] == 2


async def test_product_settings_and_creation_pages(api):
    sku = await make_product(api)
    r = await api.post(f"/products/{sku}/settings", data={"name": "Renamed", "low_stock_threshold": "-1"}, headers=HTML)
    assert r.status_code == 400 and "must be at least 0" in r.text
    r = await api.post(f"/products/{sku}/settings", data={"name": "Renamed", "low_stock_threshold": "4",
                                                           "count_interval_days": "14"})  # fmt: skip
    assert r.status_code == 303 and (await summary(api, sku))["low_stock_threshold"] == 4
    r = await api.post("/products/new", data={"sku": f"{sku}-2", "name": "Made on the page"})
    assert r.status_code == 303 and (await summary(api, f"{sku}-2"))["name"] == "Made on the page"


async def test_the_product_page_form_sent_twice_records_once(api):
    sku = await make_product(api)
    page = (await api.get(f"/products/{sku}")).text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    form = {"idempotency_key": key, "type": "BUY", "quantity": "4", "unit_price": "1.00"}
    first = await api.post(f"/products/{sku}/transactions", data=form)
    second = await api.post(f"/products/{sku}/transactions", data=form)
    assert (first.status_code, second.status_code) == (303, 303)
    assert (await summary(api, sku))["on_hand"] == 4


async def test_a_price_left_in_the_form_for_a_type_that_takes_none_is_ignored(api):
    """The product page's forms hide Unit price for COUNT (and TRANSFER); a SELL edited into a COUNT,
    or an ADJUST that writes stock off, keeps the old price in the field: it was not entered."""
    sku = await make_product(api)
    await record(api, sku, "BUY", 20, "2.00", at="2026-03-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 5, "63.81", at="2026-03-02T09:00:00+00:00")
    edit = (await api.get(f"/transactions/{sell['id']}/edit", headers=HTMX)).text
    at_default = re.search(r'name="at_default" value="([^"]+)"', edit).group(1)
    form = {"page_sku": sku, "at_default": at_default, "at": at_default, "type": "COUNT", "quantity": "10",
            "unit_price": "63.81"}  # fmt: skip
    saved = await api.post(f"/transactions/{sell['id']}", data=form, headers=HTMX)
    assert saved.status_code == 200 and "is not taken" not in saved.text, saved.text
    counted = {x["id"]: x for x in await timeline(api, sku)}[sell["id"]]
    assert (counted["type"], counted["quantity"], counted["unit_price"]) == ("COUNT", 10, None)

    theft = {"type": "ADJUST", "quantity": "-2", "reason": "theft", "unit_price": "63.81"}
    added = await api.post(f"/products/{sku}/transactions", headers=HTMX, data=theft)
    assert added.status_code == 200 and "only taken by an ADJUST" not in added.text, added.text
    assert (await summary(api, sku))["on_hand"] == 8
    page = (await api.get(f"/products/{sku}")).text
    assert 'for="add-price" class="price"' in page  # the label the stylesheet hides for COUNT and TRANSFER


async def test_part_of_a_name_sent_as_the_product_is_answered_with_the_products_it_matches(api):
    """Typed and sent without picking a suggestion (Record, or no scripts): the refusal names what
    the words match, by SKU, instead of pointing at suggestions the page may not show."""
    word = "Espr" + new_sku("x")[-8:]
    sku = await make_product(api, name=f"{word} beans")
    r = await api.post("/transactions/new", data={"sku": word.lower(), "type": "SELL", "quantity": "1",
                                                  "unit_price": "4.00"}, headers=HTML)  # fmt: skip
    assert r.status_code == 400
    assert f"did you mean {sku} ({word} beans)?" in r.text
    r = await api.post("/transactions/new", data={"sku": "nothing-like-it-" + word, "type": "SELL", "quantity": "1",
                                                  "unit_price": "4.00"}, headers=HTML)  # fmt: skip
    assert r.status_code == 400 and "nor a name with those words" in r.text
