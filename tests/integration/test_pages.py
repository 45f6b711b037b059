"""Pages over real HTTP: every form works as a plain POST, and HTMX gets the part that changed."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.integration.helpers import make_product, new_sku, record, summary, timeline

pytestmark = pytest.mark.integration
HTMX = {"HX-Request": "true"}
HTML = {"accept": "text/html"}


async def held(api, sku, quantity=2, order=None):
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": quantity, "order_ref": order or new_sku("o")})
    assert r.status_code == 201
    return r.json()


async def test_the_dashboard_has_a_row_per_product_with_figure_hooks(api):
    sku = await make_product(api, name="Dash <b>bold</b>", category="Dash")
    await record(api, sku, "BUY", 1234, "1.005")
    html = (await api.get("/", params={"q": sku})).text
    assert f'<tr data-sku="{sku}">' in html
    assert re.search(r'data-field="on_hand"[^>]*>1,234<', html)
    assert re.search(r'data-field="inventory_value"[^>]*>1,240.17<', html)
    assert "Dash &lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


async def test_a_price_of_more_than_two_decimals_is_shown_as_entered_and_amounts_to_the_cent(api):
    sku = await make_product(api, sell_price="7.005")
    await record(api, sku, "BUY", 10, "1.0050")
    sold = await record(api, sku, "SELL", 3, "3.333")
    page = (await api.get(f"/products/{sku}")).text
    assert "1.005" in page and "3.333" in page  # the timeline's prices, as entered
    assert re.search(r'<dt>Sell price</dt><dd data-field="sell_price">7.005<', page)
    assert re.search(r">\s*10\.00\s*<", page)  # the revenue of 3 × 3.333, to the cent (9.999 → 10.00)
    entry = (await api.get("/transactions/new", params={"done": sold["id"]})).text
    assert f"Sold 3 × Product {sku} <span class=\"nowrap\">({sku})</span> at 3.333" in entry
    suggested = (await api.get("/transactions/suggest", params={"sku": sku})).text
    assert "7.005" in suggested


async def test_the_product_page_shows_a_gain_in_its_summary_timeline_and_months(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-05T10:00:00+00:00")
    found = await record(api, sku, "ADJUST", 3, at="2026-01-06T10:00:00+00:00", reason="found")
    assert found["gain"] == "6.00"
    page = (await api.get(f"/products/{sku}")).text
    assert re.search(r'<dt>Gain</dt><dd data-field="gain"[^>]*>6.00<', page)
    assert re.search(r'<span class="gain" title="gain">\+6.00</span>', page)  # the row that found them
    assert re.search(r'<tr data-month="2026-01">[^/]*?</td>.*?data-field="gain">6.00<', page, re.S)


async def test_a_product_created_or_its_settings_saved_through_the_pages_says_so(api):
    sku = new_sku("SAVED")
    made = await api.post("/products/new", data={"sku": sku, "name": "Saved tea", "low_stock_threshold": "2"})
    assert made.status_code == 303 and made.headers["location"] == f"/products/{sku}?done=created"
    assert "Product created." in (await api.get(made.headers["location"])).text
    saved = await api.post(f"/products/{sku}/settings", data={"name": "Saved tea", "low_stock_threshold": "4"})
    assert saved.status_code == 303 and saved.headers["location"] == f"/products/{sku}?done=settings"
    assert "Settings saved." in (await api.get(saved.headers["location"])).text
    assert "Settings saved." not in (await api.get(f"/products/{sku}")).text
    assert (await summary(api, sku))["low_stock_threshold"] == 4


async def test_the_dashboard_says_when_it_was_asked_for_a_location_that_does_not_exist(api):
    html = (await api.get("/", params={"location": "NO-SUCH-PLACE"})).text
    assert "No location NO-SUCH-PLACE: the" in html and "stock of every location is shown." in html
    assert "No location" not in (await api.get("/")).text


async def test_confirming_from_the_reservations_page_without_javascript_redirects_and_sells(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await held(api, sku)
    page = (await api.get("/reservations", params={"sku": sku})).text
    assert f'id="reservation-{r["id"]}"' in page and "Confirm" in page
    done = await api.post(f"/reservations/{r['id']}/confirm", data={"unit_price": "4.00"})
    assert done.status_code == 303 and done.headers["location"] == "/reservations"
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY", "SELL"]


async def test_cancelling_with_htmx_returns_just_the_row(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await held(api, sku)
    done = await api.post(f"/reservations/{r['id']}/cancel", headers=HTMX)
    assert done.status_code == 200 and done.text.lstrip().startswith(f'<tr id="reservation-{r["id"]}"')
    assert "cancelled" in done.text and "<html" not in done.text
    assert (await summary(api, sku))["reserved"] == 0


async def test_cancelling_a_hold_that_lapsed_says_it_had_expired(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await api.post("/api/reservations", json={"sku": sku, "quantity": 2, "order_ref": "lapsed", "ttl_seconds": 1})
    await asyncio.sleep(1.2)
    done = await api.post(f"/reservations/{r.json()['id']}/cancel", headers=HTMX)
    assert done.status_code == 200 and "had already expired" in done.text and "available again" not in done.text


async def test_a_rejected_confirm_is_shown_on_its_row(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await held(api, sku)
    await api.post(f"/api/reservations/{r['id']}/cancel")
    htmx = await api.post(f"/reservations/{r['id']}/confirm", data={"unit_price": "4"}, headers=HTMX)
    assert htmx.status_code == 200 and f"reservation-{r['id']}" in htmx.text
    said = f"Order {r['order_ref']}&#39;s reservation of {sku} is cancelled and cannot be confirmed"
    assert said in htmx.text  # named as the clerk knows it, not by an internal number
    plain = await api.post(f"/reservations/{r['id']}/confirm", data={"unit_price": "nope"}, headers=HTML)
    assert plain.status_code == 400 and "Unit price must be a plain decimal number, got &#39;nope&#39;" in plain.text
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY"]


async def test_a_refused_price_is_named_as_the_form_names_it(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    r = await held(api, sku)
    refused = await api.post(f"/reservations/{r['id']}/confirm", data={"unit_price": "-1"}, headers=HTMX)
    assert refused.status_code == 200
    assert "Unit price must not be negative" in refused.text  # on the row
    assert f"Order {r['order_ref']}: unit price must not be negative" in refused.text  # above the tables
    assert "unit_price" not in refused.text.replace('name="unit_price"', "")
    assert 'value="-1"' in refused.text  # the box keeps what was typed, to be corrected
    plain = await api.post(f"/reservations/{r['id']}/confirm", data={"unit_price": "4,50"}, headers=HTML)
    assert plain.status_code == 400 and 'value="4,50"' in plain.text
    assert [x["type"] for x in await timeline(api, sku)] == ["BUY"]


@pytest.mark.parametrize("name", ["summary", "low-stock", "out-of-stock", "overstock", "needs-count", "movers",
                                  "by-category", "by-brand", "anomalies"])  # fmt: skip
async def test_every_report_has_a_page_with_a_csv_download(api, name):
    page = await api.get(f"/reports/{name}", headers=HTML)
    assert page.status_code == 200 and "Download CSV" in page.text
    link = re.search(r'href="(/api/reports/[^"]+format=csv[^"]*)"', page.text).group(1).replace("&amp;", "&")
    csv = await api.get(link)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")


async def test_the_monthly_page_shows_a_products_months(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 10, "2.00", at="2026-01-15T09:00:00+00:00")
    await record(api, sku, "SELL", 4, "5.00", at="2026-02-15T09:00:00+00:00")
    html = (await api.get("/reports/monthly", params={"sku": sku})).text
    assert "2026-01" in html and "2026-02" in html and "12.00" in html


async def test_importing_through_the_page_shows_the_result_or_every_bad_line(api):
    sku = new_sku("PG")
    good = (f"external_id,sku,product_name,type,quantity,unit_price,at\n"
            f"p1-{sku},{sku},Page import,BUY,3,1.50,2026-01-01T09:00:00+00:00\n")  # fmt: skip
    form = (await api.get("/import")).text
    token = re.search(r'name="token" value="([^"]+)"', form).group(1)
    done = await api.post("/import", data={"token": token}, files={"file": ("in.csv", good, "text/csv")})
    assert done.status_code == 200 and "Imported 1 transactions" in done.text
    assert (await summary(api, sku))["on_hand"] == 3
    bad = good.replace(",3,", ",-3,").replace("p1-", "p2-") + f"p3-{sku},{sku},,SELL,1,NaN,2026-01-02T09:00:00Z\n"
    refused = await api.post("/import", data={"token": token}, files={"file": ("in.csv", bad, "text/csv")},
                             headers=HTML)  # fmt: skip
    assert refused.status_code == 400
    # Each bad row: its line, column and the value it holds.
    assert re.search(r'data-line="2">.*?<code>quantity</code>.*?<code>-3</code>', refused.text, re.S)
    assert re.search(r'data-line="3">.*?<code>unit_price</code>.*?<code>NaN</code>', refused.text, re.S)


async def test_import_progress_streams_to_the_page_that_sent_the_file(api, server):
    sku = new_sku("PR")
    body = "external_id,sku,product_name,type,quantity,unit_price,at\n" + "".join(
        f"q{i}-{sku},{sku}-{i},Progress {i},BUY,1,1.00,2026-01-01T09:00:00+00:00\n" for i in range(3)
    )
    token = new_sku("tok")
    events: list[str] = []

    async def listen() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30, headers=api.headers) as client, client.stream(
            "GET", f"/import/progress/{token}") as stream:  # fmt: skip
            kind = ""
            async for line in stream.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    events.append(f"{kind} {line}")

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.3)
    done = await api.post("/import", data={"token": token}, files={"file": ("p.csv", body, "text/csv")}, headers=HTMX)
    assert done.status_code == 200 and "<html" not in done.text
    await asyncio.wait_for(listener, 10)
    bars = [e for e in events if e.startswith("progress")]
    # The import reports after each part it commits (one part here): the rows done of the file's 3 rows,
    # then the end of the import.
    assert [re.search(r'value="(\d)"', e).group(1) for e in bars][-2:] == ["3", "1"]
    assert all('max="3"' in e for e in bars[:-1]) and "Finished" in bars[-1] and events[-1].startswith("finished")


async def test_a_page_number_past_the_end_shows_the_last_page(api):
    """An old link or bookmark: the dashboard and a product's timeline show their last page, not an
    empty one ("499,901–499,900 of 5,006", "No transactions yet" for a product with 560 rows)."""
    word = new_sku("Past").replace("-", "")
    skus = [await make_product(api, sku=f"{word}-{n}", name=f"{word} {n}") for n in range(3)]
    board = (await api.get("/", params={"q": word, "per": 2, "page": 9999}, headers={"accept": "text/html"})).text
    assert "3–3 of 3" in board and "page 2 of 2" in board
    assert f'data-sku="{skus[2]}"' in board
    for n in range(53):  # a page of 50, and 3 more
        await record(api, skus[0], "BUY", 1, "1.00", note=f"row {n}")
    timeline_page = (await api.get(f"/products/{skus[0]}", params={"page_no": 999})).text
    assert "No transactions yet" not in timeline_page and "page 2 of 2" in timeline_page
    assert ">row 0<" in timeline_page and ">row 3<" not in timeline_page  # the oldest three


async def test_a_full_list_of_active_holds_says_how_many_there_are_and_ended_holds_stay_listed(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 600, "1.00")
    ended = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": "paid-early"})).json()
    assert (await api.post(f"/api/reservations/{ended['id']}/confirm", json={"unit_price": "2"})).status_code == 200
    made = await asyncio.gather(*(api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": f"f-{i}"})
                                  for i in range(501)))  # fmt: skip
    assert {r.status_code for r in made} == {201}
    shown = await api.get(f"/reservations?sku={sku}", headers=HTML)
    assert shown.status_code == 200 and "The newest 500 of 501 active holds." in shown.text
    assert shown.text.count('data-status="active"') == 500
    # Ended before 501 newer holds were made, it is still under Recent (not crowded out by them).
    assert f'id="reservation-{ended["id"]}" data-reservation="{ended["id"]}" data-status="confirmed"' in shown.text
