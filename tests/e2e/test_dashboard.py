"""The dashboard with a real catalogue: 1,000 products, and the page still answers at once."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from decimal import Decimal

import asyncpg
import httpx
import pytest

from tests.conftest import bearer, make_user, start_server
from tests.e2e.conftest import screenshot_path, signed_in
from tests.integration.helpers import every_product, make_product, record

pytestmark = pytest.mark.e2e

PRODUCTS = 1000
# The longest the main thread may be busy at a stretch once the page is laid out (the live script's
# work), counting a task that started before and still runs. The issue asks for a response within
# 200 ms; a busy 2-core machine (other test servers, the database) gets some slack. Before the fix one
# task took 4-9 s here (each of the 1,000 state events re-added every row's figures).
LONGEST_BLOCK_MS = 250
# Any wait after first paint (a key press sent by the test until the page handles it, or the probe's
# turn). This also covers the browser's own parsing and first layout of the 1,000-row table (100-700 ms
# here on a loaded machine, with or without the live script: the paged dashboard is another issue's),
# and the protocol's hops. Before the fix: 4-9 s.
ANY_WAIT_MS = 1500
WATCH_SECONDS = 4.0

# Installed before any script of the page runs: every long task (a main-thread stretch over 50 ms); a
# probe that asks the main thread for a turn every 10 ms from first paint on and keeps the worst wait;
# when the page was laid out; when it opened its event stream and how many state events came; when
# each key press was handled.
PROBE = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push({start: e.startTime, duration: e.duration});
}).observe({type: "longtask", buffered: true});
window.__probe = {worst: 0, turns: 0, from: null};
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.name !== "first-contentful-paint" || window.__probe.from !== null) continue;
    window.__probe.from = e.startTime;
    let asked = performance.now();
    const tick = () => {
      const now = performance.now();
      window.__probe.worst = Math.max(window.__probe.worst, now - asked);
      window.__probe.turns += 1;
      asked = now + 10;
      setTimeout(tick, 10);
    };
    setTimeout(tick, 10);
  }
}).observe({type: "paint", buffered: true});
window.__settled = null;  // the first frame drawn after the load event: the table is laid out
addEventListener("load", () => requestAnimationFrame(() => setTimeout(() => {
  window.__settled = performance.now();
})));
window.__stream = {at: null, events: 0};
window.EventSource = class extends window.EventSource {
  constructor(...args) {
    super(...args);
    window.__stream.at = performance.now();
    this.addEventListener("stock", () => { window.__stream.events += 1; });
  }
};
window.__keys = [];  // when each key press was handled, by the wall clock the test also reads
document.addEventListener("keydown", () => window.__keys.push(Date.now()), true);
"""


async def own_server(database_url: str, prefix: str, **env: str):
    """An app on a database of its own in the test cluster, with an admin and its token."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    url = database_url.replace("/postgres?", f"/{name}?")
    server = start_server(url, INVENTORY_SWEEP_SECONDS="3600", **env)
    return server, make_user(url, "board-admin", "admin")


@pytest.fixture(scope="module")
async def catalogue(database_url):
    """An app on its own database holding exactly 1,000 products (made with one CSV import): a
    quarter of them low on stock, some with sales, so every figure and the alerts panel are busy."""
    server, token = await own_server(database_url, "board")
    rows = ["external_id,sku,product_name,category,low_stock_threshold,type,quantity,unit_price,at"]
    for i in range(PRODUCTS):
        sku, low = f"B-{i:04d}", 5 if i % 4 == 0 else 0
        rows.append(f"b{i},{sku},Board product {i},Cat {i % 7},{low},BUY,{(i % 4) + 1 + (i % 13)},"
                    f"{1 + i % 9}.25,2026-01-01T09:00:00+00:00")  # fmt: skip
        if i % 3 == 0:
            rows.append(f"s{i},{sku},,,,SELL,1,9.99,2026-01-02T09:00:00+00:00")
    async with httpx.AsyncClient(base_url=server.url, timeout=300, headers=bearer(token)) as client:
        r = await client.post("/api/import", content="\n".join(rows).encode() + b"\n",
                              headers={"content-type": "text/csv"})  # fmt: skip
        assert r.status_code == 201, r.text[:2000]
        assert r.json()["products_created"] == PRODUCTS
        server.client = client  # type: ignore[attr-defined]
        yield server
    server.stop()


def _total(text: str) -> str:
    return text.replace(",", "").strip()


async def test_the_dashboard_answers_at_once_with_1000_products_while_their_state_streams_in(browser, catalogue):
    context = await signed_in(browser, catalogue.url, "board-admin", viewport={"width": 1200, "height": 900})
    await context.add_init_script(PROBE)
    tab = await context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await tab.goto(f"{catalogue.url}/", wait_until="commit")
    # From now on the page loads, paints, connects to /events and applies the 1,000 state events; a user
    # keeps pressing a key. (Sent as raw input at once: anything that asks the page first, like waiting
    # for an element, would itself wait for a busy page.)
    clock = asyncio.get_running_loop().time
    sent: list[float] = []  # when each key press left the test, by the wall clock
    until = clock() + WATCH_SECONDS
    while clock() < until:
        sent.append(time.time() * 1000)
        await tab.keyboard.press("Shift")
        await asyncio.sleep(0.2)
    # The stream follows the page's 50 rows (issue 13): their state came, not the catalogue's.
    await tab.wait_for_function("() => window.__stream.events >= 50")
    seen = json.loads(
        await tab.evaluate(
            "JSON.stringify({tasks: window.__longTasks, probe: window.__probe, keys: window.__keys, "
            "stream: window.__stream, settled: window.__settled, origin: performance.timeOrigin})"
        )
    )
    painted, settled = seen["probe"]["from"], seen["settled"]
    first_render = max((t["duration"] for t in seen["tasks"] if t["start"] + t["duration"] <= settled), default=0.0)
    live = [t for t in seen["tasks"] if t["start"] + t["duration"] > settled]  # still running, or after
    longest = max((t["duration"] for t in live), default=0.0)
    # A press sent before the new document was there went nowhere: the ones handled are the last ones.
    handled = seen["keys"]
    assert 0 < len(handled) <= len(sent) and len(sent) - len(handled) <= 2, (sent, handled)
    keys = [done - left for left, done in zip(sent[-len(handled):], handled, strict=True)
            if left >= seen["origin"] + painted]  # fmt: skip
    print(f"\nfirst paint at {painted:.0f} ms, stream opened at {seen['stream']['at']:.0f} ms, laid out at "
          f"{settled:.0f} ms; longest task before {first_render:.0f} ms, after {longest:.0f} ms "
          f"({len(live)} over 50 ms); "
          f"worst wait for a turn after first paint {seen['probe']['worst']:.0f} ms; "
          f"key presses waited {[round(k) for k in keys]} ms")  # fmt: skip
    assert seen["probe"]["turns"] >= 10 and keys, seen  # the probe ran, keys were pressed after first paint
    assert longest < LONGEST_BLOCK_MS, live
    assert seen["probe"]["worst"] < ANY_WAIT_MS, seen["probe"]
    assert max(keys) < ANY_WAIT_MS, keys

    # The live figures still follow every change of a row shown, the totals kept right.
    before = _total(await tab.locator('[data-total="on_hand"]').text_content())
    await record(catalogue.client, "B-0040", "BUY", 1000, "2.00")
    await tab.wait_for_function(f"""() => document.querySelector('[data-total="on_hand"]').textContent
                                    .replace(/,/g, '') === '{int(before) + 1000}'""")  # fmt: skip
    product = (await catalogue.client.get("/api/products/B-0040")).json()
    row = tab.locator('tr[data-sku="B-0040"]')
    assert await row.locator('[data-field="on_hand"]').text_content() == f"{product['on_hand']:,}"
    value = f"{Decimal(product['inventory_value']):,}"
    assert await row.locator('[data-field="inventory_value"]').text_content() == value
    listed = await every_product(catalogue.client)
    for field in ("on_hand", "reserved", "available", "inventory_value", "realized_pl"):
        expected = sum(Decimal(str(p[field])) for p in listed)
        assert Decimal(_total(await tab.locator(f'[data-total="{field}"]').text_content())) == expected, field
    await tab.locator('[data-total="on_hand"]').scroll_into_view_if_needed()
    await tab.screenshot(path=screenshot_path("dashboard-1000-totals"))
    await tab.evaluate("window.scrollTo(0, 0)")
    await tab.screenshot(path=screenshot_path("dashboard-1000"))
    assert errors == []
    await context.close()


async def test_after_a_search_the_live_figures_and_totals_follow_the_rows_shown(browser, catalogue):
    """Guards the incremental totals: htmx swaps in another table, and changes count only for its rows."""
    context = await signed_in(browser, catalogue.url, "board-admin", viewport={"width": 1200, "height": 900})
    tab = await context.new_page()
    await tab.goto(f"{catalogue.url}/")
    await tab.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    await tab.get_by_label("Search").fill("B-002")
    await tab.wait_for_function("() => document.querySelectorAll('#products tbody tr[data-sku]').length === 10")
    shown = [p for p in (await catalogue.client.get("/api/products", params={"q": "B-002"})).json()["items"]]
    before = sum(p["on_hand"] for p in shown)
    assert _total(await tab.locator('[data-total="on_hand"]').text_content()) == str(before)
    await record(catalogue.client, "B-0900", "BUY", 50, "1.00")  # not shown: the totals stay
    assert (await catalogue.client.get("/api/products/B-0020")).json()["status"] == "ok"
    await record(catalogue.client, "B-0020", "SELL", 4, "9.00")  # shown, and low afterwards
    await tab.locator('[data-alert-sku="B-0020"] .badge.low').wait_for()
    await tab.wait_for_function(f"""() => document.querySelector('[data-total="on_hand"]').textContent
                                    === '{before - 4}'""")  # fmt: skip
    after = (await catalogue.client.get("/api/products/B-0020")).json()
    row = tab.locator('tr[data-sku="B-0020"]')
    assert await row.locator('[data-field="available"]').text_content() == str(after["available"])
    assert await row.locator('[data-field="status"]').text_content() == after["status"]
    listed = (await catalogue.client.get("/api/products", params={"q": "B-002"})).json()["items"]
    for field in ("on_hand", "available", "inventory_value", "realized_pl"):
        expected = sum(Decimal(str(p[field])) for p in listed)
        assert Decimal(_total(await tab.locator(f'[data-total="{field}"]').text_content())) == expected, field
    await context.close()


async def test_live_figures_and_times_are_written_in_the_shops_locale_currency_and_zone_as_the_server_writes_them(
    browser, database_url
):
    server, token = await own_server(database_url, "euro", INVENTORY_LOCALE="de_DE", INVENTORY_CURRENCY="EUR",
                                     INVENTORY_TIMEZONE="Asia/Kolkata")  # +05:30: a time in UTC would show  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(token)) as client:
            for sku in ("EU-1", "EU-2"):
                assert (await client.post("/api/products", json={"sku": sku, "name": sku})).status_code == 201
            await record(client, "EU-1", "BUY", 1200, "1.0005")
            await record(client, "EU-2", "BUY", 3, "7.50")
            context = await signed_in(browser, server.url, "board-admin")
            tab = await context.new_page()
            await tab.goto(f"{server.url}/")
            await tab.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
            await record(client, "EU-1", "BUY", 1000, "2.1234")  # average cost 1.509045…, value over 3,000
            await record(client, "EU-1", "SELL", 1, "3.00")
            await record(client, "EU-2", "COUNT", 2)
            for sku, on_hand in (("EU-1", "2199"), ("EU-2", "2")):
                await tab.wait_for_function(
                    f"""() => document.querySelector('tr[data-sku="{sku}"] [data-field="on_hand"]').dataset.raw
                              === '{on_hand}'"""
                )
            await tab.wait_for_timeout(300)  # the frame that writes the totals

            async def shown(page):
                return await page.evaluate("""() => [...document.querySelectorAll(
                    '#products [data-field], #products [data-total], #products .cost')].map(
                    e => [e.dataset.field || e.dataset.total || 'cost', e.textContent.trim(), e.title || ''])""")

            live = await shown(tab)
            fresh = await context.new_page()
            await fresh.goto(f"{server.url}/")
            rendered = await shown(fresh)
            assert live == rendered
            values = dict((f, t) for f, t, _ in rendered)
            assert "€" in values["inventory_value"] and "." in values["on_hand"]  # 2.199: German grouping
            # "Last sale" and "Last counted" followed the sale and the count (they were empty before)
            assert {f for f, t, _ in live if t and f.startswith("last_")} == {"last_sale_at", "last_counted_at"}
            await context.close()
    finally:
        server.stop()


async def test_a_list_filtered_by_status_or_ordered_by_a_live_column_says_when_stock_may_have_changed_it(
    api, server, page
):
    prefix = f"LC{uuid.uuid4().hex[:6].upper()}"
    a, b, c = [await make_product(api, sku=f"{prefix}-{n}", low_stock_threshold=5) for n in "ABC"]
    for sku in (a, b):
        await record(api, sku, "BUY", 2, "1.00")  # low: 2 of a threshold of 5
    await record(api, c, "BUY", 20, "1.00")  # ok
    await page.goto(f"{server.url}/?q={prefix}&status=low")
    await page.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    note = page.locator("#list-changed")
    assert await page.locator("#products tbody tr[data-sku]").count() == 2 and await note.is_hidden()

    await record(api, a, "BUY", 10, "1.00")  # A is no longer low: its row is updated, and the list says so
    await page.locator(f'tr[data-sku="{a}"] [data-field="status"] .badge.ok').wait_for(timeout=5000)
    await note.wait_for(state="visible", timeout=5000)
    await page.screenshot(path=screenshot_path("dashboard-list-changed"), full_page=True)
    await note.get_by_role("link", name="Show the list as it is now").click()
    await page.locator(f'tr[data-sku="{a}"]').wait_for(state="detached", timeout=5000)
    assert await note.is_hidden() and await page.locator(f'tr[data-sku="{b}"]').count() == 1

    await page.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    await record(api, c, "SELL", 18, "2.00")  # C, not on the page, turns low: it belongs in this list now
    await note.wait_for(state="visible", timeout=5000)
    await note.get_by_role("link").click()
    await page.locator(f'tr[data-sku="{c}"]').wait_for(timeout=5000)

    await page.goto(f"{server.url}/?q={prefix}&sort=last_sale&dir=desc")  # newest sale first
    await page.wait_for_function("() => document.querySelector('[data-live]').dataset.liveState === 'connected'")
    await page.locator("#products tbody tr[data-sku]").first.wait_for()
    assert await note.is_hidden()
    await record(api, b, "SELL", 1, "2.00")  # B's sale is now the newest: it would head the list
    await note.wait_for(state="visible", timeout=5000)
