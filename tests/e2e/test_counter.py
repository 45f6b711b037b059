"""The counter in a real browser: a sale in a few keystrokes, every type the entry form offers, a
clerk's refused backdated sale, a clerk voiding their own sale; and what each costs in keystrokes."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.conftest import bearer
from tests.e2e.conftest import ARTIFACTS, screenshot_path, signed_in
from tests.integration.helpers import gtin, make_product, record, summary, timeline

pytestmark = pytest.mark.e2e
KEYS_FILE = ARTIFACTS / "counter-keystrokes.json"


def word() -> str:
    """A made-up word no SKU (hex) and no other test's product name contains."""
    return "".join(random.choice("ghjkmnpqrstvwxyz") for _ in range(6)).capitalize()


async def counter_tab(browser, server, username: str) -> Page:
    context = await signed_in(browser, server.url, username, viewport={"width": 1100, "height": 900})
    tab = await context.new_page()
    tab.errors = []  # type: ignore[attr-defined]
    tab.on("console", lambda m: tab.errors.append(f"{m.text} at {m.location}") if m.type == "error" else None)  # type: ignore[attr-defined]
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))  # type: ignore[attr-defined]
    tab.on("dialog", lambda d: d.accept())  # "Void …?" is answered yes
    await tab.goto(f"{server.url}/transactions/new")
    await count_keys(tab)
    return tab


async def count_keys(tab: Page) -> None:
    """Every key the page receives, counted where it lands (the htmx swaps keep the document)."""
    await tab.evaluate("window.__keys = 0; document.addEventListener('keydown', () => window.__keys++, true)")


async def keys(tab: Page) -> int:
    return int(await tab.evaluate("window.__keys"))


def suggestions(tab: Page):
    return tab.get_by_role("listbox", name="Suggestions").get_by_role("option")


async def focused_id(tab: Page) -> str:
    return str(await tab.evaluate("document.activeElement && document.activeElement.id"))


async def until(tab: Page, expression: str) -> None:
    """Poll a page expression until it is true, for up to 5 s. (wait_for_function would poll with
    eval(), which the page's CSP refuses.)"""
    async with asyncio.timeout(5):
        while True:
            if await tab.evaluate(expression):
                return
            await asyncio.sleep(0.05)


async def focus_lands_on(tab: Page, element_id: str) -> None:
    """The focus moves once the swapped-in form settles (htmx, then counter.js)."""
    await until(tab, f"document.activeElement && document.activeElement.id === {element_id!r}")


def note_keystrokes(name: str, value: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    seen = json.loads(KEYS_FILE.read_text()) if KEYS_FILE.exists() else {}
    KEYS_FILE.write_text(json.dumps({**seen, name: value}, indent=2) + "\n")


async def stocked(api, name: str, price: str | None = "6.95", units: int = 40, **fields: Any) -> str:
    sku = await make_product(api, name=name, sell_price=price, **fields)
    await record(api, sku, "BUY", units, "3.10")
    return sku


async def test_a_scanned_barcode_then_enter_sells_one_and_the_form_is_ready_for_the_next_scan(api, server, browser):
    code, name = gtin(13), f"Green tea {word()}"
    sku = await stocked(api, name, barcode=code)
    tab = await counter_tab(browser, server, "clerk1")
    assert await focused_id(tab) == "sku"  # the form opens on Product
    assert await tab.get_by_label("Type").input_value() == "SELL"  # a clerk's default

    await tab.keyboard.type(code, delay=8)  # the scanner types the code …
    await tab.keyboard.press("Enter")  # … and presses Enter
    await expect(tab.locator("#chosen")).to_contain_text(f"{name} · {sku} · 40 available · 6.95")
    assert await tab.get_by_label("Product").input_value() == sku
    assert await tab.get_by_label("Quantity").input_value() == "1"
    assert await tab.get_by_label("Unit price").input_value() == "6.95"
    await focus_lands_on(tab, "sku")
    await tab.keyboard.press("Enter")  # the clerk's one key

    confirmation = tab.locator("#recorded")
    await expect(confirmation).to_contain_text(f"Sold 1 × {name} ({sku}) at 6.95 — 39 left")
    # Ready for the next scan: the focus on Product, its text selected so that the scan replaces it.
    selected = "document.activeElement.selectionEnd - document.activeElement.selectionStart"
    await until(tab, f"document.activeElement.id === 'sku' && {selected} === {len(sku)}")
    pressed = await keys(tab)
    assert pressed == len(code) + 2
    note_keystrokes("scanned sale", {"scanner": len(code) + 1, "clerk": pressed - len(code) - 1, "all": pressed})
    await tab.screenshot(path=screenshot_path("counter-scanned"), full_page=True, caret="initial")

    # The next scan, straight away: the same product again, by its barcode.
    await tab.keyboard.type(code, delay=8)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("39 available")
    await tab.keyboard.press("Enter")
    await expect(confirmation).to_contain_text(f"Sold 1 × {name} ({sku}) at 6.95 — 38 left")
    rows = await timeline(api, sku)
    assert [(r["type"], r["quantity"], r["unit_price"]) for r in rows[1:]] == [("SELL", 1, "6.9500")] * 2
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_part_of_a_name_then_arrow_down_and_enter_picks_it(api, server, browser):
    w = word()
    first = await stocked(api, f"{w} jasmine tea", price="4.50", units=12)
    second = await stocked(api, f"{w} jasmine pearls", price="9.80", units=7)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(w[:4].lower(), delay=40)
    options = suggestions(tab)
    await expect(options).to_have_count(2)
    # Each suggestion shows name, SKU, available stock and price.
    await expect(options.nth(0)).to_contain_text(f"{w} jasmine pearls")
    await expect(options.nth(0)).to_contain_text(second)
    await expect(options.nth(0)).to_contain_text("7 available")
    await expect(options.nth(0)).to_contain_text("9.80")
    await expect(options.nth(1)).to_contain_text(f"{w} jasmine tea")
    await expect(options.nth(1)).to_contain_text("12 available")
    await tab.screenshot(path=screenshot_path("counter-suggestions"), full_page=True, caret="initial")

    await tab.keyboard.press("ArrowDown")
    await expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    await tab.keyboard.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text(f"{w} jasmine tea · {first} · 12 available · 4.50")
    await expect(tab.get_by_role("listbox")).to_be_hidden()
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"Sold 1 × {w} jasmine tea ({first}) at 4.50 — 11 left")
    await focus_lands_on(tab, "sku")
    assert await keys(tab) == 4 + 2 + 2
    assert (await summary(api, first))["on_hand"] == 11 and (await summary(api, second))["on_hand"] == 7
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_keystrokes_for_a_typed_sale(api, server, browser):
    """The fewest keys for a product without a barcode: three letters of its name, ↓, Enter, Enter."""
    w = word()
    sku = await stocked(api, f"{w} rooibos", price="3.20", units=5)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(w[:3].lower(), delay=40)
    await expect(suggestions(tab)).to_have_count(1)
    await tab.keyboard.press("ArrowDown")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text(sku)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"Sold 1 × {w} rooibos ({sku}) at 3.20 — 4 left")
    typed = await keys(tab)
    assert typed == 6
    # By SKU: the SKU, Enter (exact: picked at once), Enter.
    await tab.keyboard.type(sku, delay=10)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("4 available")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 3 left")
    by_sku = await keys(tab) - typed
    assert by_sku == len(sku) + 2
    note_keystrokes("typed sale", {"by name (3 letters, ↓, Enter, Enter)": typed,
                                   f"by SKU ({len(sku)} characters, Enter, Enter)": by_sku})  # fmt: skip
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_a_double_enter_records_one_sale(api, server, browser):
    code = gtin(13)
    sku = await stocked(api, f"Double {word()}", barcode=code, units=5)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(code)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("5 available")
    await tab.keyboard.press("Enter")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 4 left")
    await tab.wait_for_timeout(600)
    assert (await summary(api, sku))["on_hand"] == 4
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY", "SELL"]


async def test_codes_scanned_faster_than_the_lookups_each_record_one_sale_and_none_runs_into_the_next(
    api, server, browser
):
    """A scanner set to send Enter twice, at full speed: every Enter that comes while the product is
    looked up or the sale is on its way waits its turn; the next code replaces the last one."""
    sku = await stocked(api, f"Mug {word()}", units=20)
    tab = await counter_tab(browser, server, "clerk1")
    for _ in range(5):
        await tab.keyboard.type(sku, delay=0)
        await tab.keyboard.press("Enter")
        await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 15 left", timeout=15000)
    await tab.wait_for_timeout(600)  # nothing more arrives
    assert (await summary(api, sku))["on_hand"] == 15
    assert await tab.get_by_label("Product").input_value() == sku  # not five codes run together
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_sell_on_scan_records_a_sale_for_each_scan_with_its_one_enter(api, server, browser):
    code, name = gtin(13), f"Biscuits {word()}"
    sku = await stocked(api, name, price="2.40", barcode=code, units=10)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.get_by_label("Sell on scan").check()
    await tab.locator("#sku").focus()
    for _ in range(3):  # a one-Enter scanner, one code after another without waiting
        await tab.keyboard.type(code, delay=0)
        await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"Sold 1 × {name} ({sku}) at 2.40 — 7 left", timeout=15000)
    await tab.wait_for_timeout(600)
    rows = await timeline(api, sku)
    assert [(r["type"], r["quantity"], r["unit_price"]) for r in rows[1:]] == [("SELL", 1, "2.4000")] * 3
    await tab.screenshot(path=screenshot_path("counter-sell-on-scan"), full_page=True, caret="initial")

    unpriced = await stocked(api, f"Loose {word()}", price=None, units=5)  # no sell price: refused
    await tab.keyboard.type(unpriced, delay=0)
    await tab.keyboard.press("Enter")
    await tab.keyboard.type(code, delay=0)  # the next scan at once: the refusal must not be lost with it
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 6 left", timeout=15000)
    await expect(tab.locator("#not-sold")).to_contain_text(f"Not sold: {unpriced}")
    await expect(tab.locator("#not-sold")).to_contain_text("Unit price is required for SELL")
    await tab.screenshot(path=screenshot_path("counter-not-sold"), full_page=True, caret="initial")
    await focus_lands_on(tab, "sku")  # the next scan goes where scans go

    for _ in range(2):  # a scanner that sends two Enters: one sale a scan, the second Enter sells nothing
        await tab.keyboard.type(code, delay=0)
        await tab.keyboard.press("Enter")
        await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 4 left", timeout=15000)
    await tab.wait_for_timeout(800)
    await tab.keyboard.press("Enter")  # and a stray Enter after the sale sells nothing either
    await tab.wait_for_timeout(800)
    assert (await summary(api, sku))["on_hand"] == 4
    assert (await summary(api, unpriced))["on_hand"] == 5

    await tab.reload()  # the browser remembers the choice
    await expect(tab.get_by_label("Sell on scan")).to_be_checked()
    await tab.get_by_label("Sell on scan").uncheck()  # two Enters again: a scan only picks
    await tab.locator("#sku").focus()
    await tab.keyboard.type(code, delay=0)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("4 available")
    await tab.wait_for_timeout(400)
    assert (await summary(api, sku))["on_hand"] == 4
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_after_a_refused_sale_the_next_product_sells_at_its_own_price(api, server, browser):
    """A refused sale's form comes back with that product's price in Unit price: the next product
    picked brings its own (or none), it never sells at the refused one's."""
    empty = await make_product(api, name=f"Sold out {word()}", sell_price="3.50")  # nothing in stock
    priced = await stocked(api, f"Dear {word()}", price="9.99", units=5)
    unpriced = await stocked(api, f"Loose {word()}", price=None, units=5)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(empty, delay=0)
    await tab.keyboard.press("Enter")
    await expect(tab.get_by_label("Unit price")).to_have_value("3.50")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("main")).to_contain_text("would leave stock at -1")
    await focus_lands_on(tab, "sku")
    await tab.keyboard.type(priced, delay=0)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text(priced)
    await expect(tab.get_by_label("Unit price")).to_have_value("9.99")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"({priced}) at 9.99 — 4 left")

    await tab.keyboard.type(empty, delay=0)  # refused again, then a product with no sell price
    await tab.keyboard.press("Enter")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("main")).to_contain_text("would leave stock at -1")
    await focus_lands_on(tab, "sku")
    await tab.keyboard.type(unpriced, delay=0)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text(unpriced)
    await expect(tab.get_by_label("Unit price")).to_have_value("")  # to be typed, not 3.50
    rows = await timeline(api, priced)
    assert [(r["type"], r["unit_price"]) for r in rows[1:]] == [("SELL", "9.9900")]
    assert (await summary(api, unpriced))["on_hand"] == 5
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_a_code_no_product_has_is_replaced_by_the_next_scan_and_listed_as_not_sold(api, server, browser):
    code, name = gtin(13), f"Crackers {word()}"
    sku = await stocked(api, name, price="1.20", barcode=code, units=10)
    unknown = gtin(13)  # nobody's
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(unknown, delay=0)
    await tab.keyboard.press("Enter")
    await expect(suggestions(tab)).to_have_count(0)
    await expect(tab.locator("#suggestions")).to_contain_text("No product has")
    await tab.keyboard.type(code, delay=0)  # the next scan replaces the code, never runs into it
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text(f"{name} · {sku}")
    assert await tab.get_by_label("Product").input_value() == sku

    await tab.get_by_label("Sell on scan").check()
    await tab.locator("#sku").focus()
    for scanned in (unknown, code, unknown, code):
        await tab.keyboard.type(scanned, delay=0)
        await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text("— 8 left", timeout=15000)
    await expect(tab.locator("#not-sold li")).to_have_count(2)
    await expect(tab.locator("#not-sold")).to_contain_text(f"Not sold: {unknown} — No product has")
    await tab.screenshot(path=screenshot_path("counter-unknown-code"), full_page=True, caret="initial")
    assert (await summary(api, sku))["on_hand"] == 8
    assert tab.errors == []  # type: ignore[attr-defined]


ADJUSTS = [("damage", "-1", "Wrote off 1"), ("loss", "-1", "Wrote off 1"), ("theft", "-2", "Wrote off 2"),
           ("expired", "-1", "Wrote off 1"), ("found", "3", "Added 3"), ("return", "1", "Added 1"),
           ("correction", "2", "Added 2"), ("other", "-1", "Wrote off 1")]  # fmt: skip


async def test_a_manager_records_every_type_the_form_offers(api, server, browser):
    name = f"All kinds {word()}"
    sku = await make_product(api, name=name, sell_price="5.00")
    tab = await counter_tab(browser, server, "manager1")
    form = tab.locator("form[data-counter]")
    assert await tab.get_by_label("Type").locator("option").all_inner_texts() == ["BUY", "SELL", "ADJUST", "COUNT"]

    async def entry(kind: str, quantity: str, price: str | None = None, reason: str | None = None) -> None:
        if sku not in await tab.locator("#chosen").inner_text():  # (after a refusal it still is)
            await tab.get_by_label("Product").fill(sku)
            await tab.get_by_label("Product").press("Enter")  # an exact SKU is picked at once
            await expect(tab.locator("#chosen")).to_contain_text(sku)
        await tab.get_by_label("Type").select_option(kind)
        await tab.get_by_label("Quantity").fill(quantity)
        if kind != "COUNT":
            await tab.get_by_label("Unit price").fill(price or "")
        assert await tab.get_by_label("Reason").is_visible() is (kind == "ADJUST")
        assert await tab.get_by_label("Unit price").is_visible() is (kind != "COUNT")
        if reason:
            await tab.get_by_label("Reason").select_option(reason)
        await form.get_by_role("button", name="Record").click()

    await entry("BUY", "20", "2.00")
    await expect(tab.locator("#recorded")).to_contain_text(f"Bought 20 × {name} ({sku}) at 2.00 — 20 in stock")
    await entry("SELL", "3", "5.00")
    await expect(tab.locator("#recorded")).to_contain_text(f"Sold 3 × {name} ({sku}) at 5.00 — 17 left")

    # ADJUST without a reason: the 400 shows beside Reason, which is on screen.
    await entry("ADJUST", "-1")
    reason_error = tab.locator(".field.reason .error")
    await expect(reason_error).to_have_text("is required for ADJUST")
    await expect(reason_error).to_be_visible()
    await tab.screenshot(path=screenshot_path("counter-adjust-needs-reason"), full_page=True, caret="initial")
    assert (await summary(api, sku))["transaction_count"] == 2

    stock = 17
    for reason, quantity, said in ADJUSTS:
        await entry("ADJUST", quantity, reason=reason)
        stock += int(quantity)
        await expect(tab.locator("#recorded")).to_contain_text(f"{said} × {name} ({sku}) ({reason}) — {stock} in stock")
    await entry("COUNT", "12")
    await expect(tab.locator("#recorded")).to_contain_text(f"Counted 12 × {name} ({sku}) — 12 in stock")
    await tab.screenshot(path=screenshot_path("counter-every-type"), full_page=True, caret="initial")

    rows = await timeline(api, sku)
    assert [r["type"] for r in rows] == ["BUY", "SELL", *["ADJUST"] * len(ADJUSTS), "COUNT"]
    assert [r["reason"] for r in rows if r["type"] == "ADJUST"] == [r for r, _, _ in ADJUSTS]
    assert rows[-1]["stock_after"] == 12
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_a_clerks_backdated_sale_is_refused_with_its_message(api, server, browser):
    code = gtin(13)
    sku = await stocked(api, f"Backdated {word()}", barcode=code, units=3)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(code)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("3 available")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    await tab.get_by_label("Date").fill(yesterday)
    await tab.get_by_label("Quantity").press("Enter")
    problem = tab.locator("#problem")
    await expect(problem).to_contain_text("needs the manager role; you are clerk")
    await expect(problem).to_be_visible()
    assert await tab.get_by_label("Product").input_value() == sku  # nothing the clerk typed is lost
    await tab.screenshot(path=screenshot_path("counter-clerk-backdated"), full_page=True, caret="initial")
    assert (await summary(api, sku))["transaction_count"] == 1
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_a_clerk_voids_their_own_sale_and_only_that(api, server, browser, tokens):
    code, name = gtin(13), f"Void me {word()}"
    sku = await stocked(api, name, barcode=code, units=10)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(code)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("10 available")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"Sold 1 × {name} ({sku}) at 6.95 — 9 left")
    sale = (await timeline(api, sku))[-1]
    mine = tab.locator(f"#recent-{sale['id']}")
    await expect(mine).to_contain_text(f"Sold 1 × {name} ({sku}) at 6.95")
    await tab.screenshot(path=screenshot_path("counter-before-void"), full_page=True, caret="initial")

    await tab.locator("#recorded").get_by_role("button", name="Void").click()
    await expect(tab.locator("#voided")).to_contain_text(f"Voided: Sold 1 × {name} ({sku}) at 6.95 — 10 left")
    await expect(mine).to_have_count(0)
    await focus_lands_on(tab, "sku")
    await tab.screenshot(path=screenshot_path("counter-voided"), full_page=True, caret="initial")
    assert (await summary(api, sku))["on_hand"] == 10
    assert [r["type"] for r in await timeline(api, sku)] == ["BUY"]
    audit = (await api.get("/audit", headers={"accept": "text/html"})).text
    who = '<td data-label="Who">clerk1</td><td data-label="What">void</td>\n    '
    assert f'{who}<td class="num" data-label="Transaction">{sale["id"]}</td>' in audit
    assert f"Sale of 1 × {sku} at 6.95 on" in audit  # the row it took, as the clerk entered it
    assert tab.errors == []  # type: ignore[attr-defined]

    # Anything else stays a manager's delete: a sale the clerk did not record …
    theirs = await record(api, sku, "SELL", 1, "6.95")
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["clerk"])) as clerk:
        r = await clerk.post(f"/api/transactions/{theirs['id']}/void")
        assert r.status_code == 403 and "not recorded by you" in r.json()["detail"], r.text
        # … or one dated another day (a manager's backdated sale), both reasons named.
        days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
        await record(api, sku, "BUY", 1, "3.10", at=days_ago)
        old = await record(api, sku, "SELL", 1, "6.95", at=days_ago)
        r = await clerk.post(f"/api/transactions/{old['id']}/void")
        why = r.json()["detail"]
        assert r.status_code == 403 and "not today" in why and "not recorded by you" in why
        # Their own API sale, sent with an Idempotency-Key, they may void; a second void finds nothing.
        own = await clerk.post(
            "/api/transactions",
            json={"sku": sku, "type": "SELL", "quantity": 2, "unit_price": "6.95"},
            headers={"Idempotency-Key": sku},
        )
        assert own.status_code == 201
        r = await clerk.post(f"/api/transactions/{own.json()['id']}/void")
        assert r.status_code == 200, r.text
        assert r.json()["voided"]["quantity"] == 2 and r.json()["product"]["on_hand"] == 9
        assert (await clerk.post(f"/api/transactions/{own.json()['id']}/void")).status_code == 404
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["viewer"])) as viewer:
        assert (await viewer.post(f"/api/transactions/{theirs['id']}/void")).status_code == 403
    r = await api.post(f"/api/transactions/{theirs['id']}/void")  # a manager (here the admin) may
    assert r.status_code == 200 and (await summary(api, sku))["on_hand"] == 10


async def test_the_entry_form_as_it_looks(api, server, browser):
    """The screenshot in docs/screenshots: a sale just recorded, suggestions open for the next."""
    code, w = gtin(13), word()
    sku = await stocked(api, f"Green tea {w}", barcode=code)
    await stocked(api, f"Earl grey {w}", price="7.40", units=25)
    await stocked(api, f"Mint tea {w}", price="5.10", units=3)
    tab = await counter_tab(browser, server, "clerk1")
    await tab.keyboard.type(code)
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#chosen")).to_contain_text("40 available")
    await tab.keyboard.press("Enter")
    await expect(tab.locator("#recorded")).to_contain_text(f"({sku}) at 6.95 — 39 left")
    await tab.keyboard.type(w.lower()[:4], delay=40)
    await expect(suggestions(tab)).to_have_count(3)
    await tab.keyboard.press("ArrowDown")
    await expect(suggestions(tab).nth(0)).to_have_attribute("aria-selected", "true")
    await tab.screenshot(path=screenshot_path("counter-entry-form"), full_page=True, caret="initial")
    assert tab.errors == []  # type: ignore[attr-defined]


async def test_a_date_left_as_proposed_is_now_even_when_chromium_drops_its_zero_seconds(api):
    """Chromium sends a datetime-local value at :00 seconds as "09:10", not "09:10:00": still "now"."""
    sku = await stocked(api, f"Seconds {word()}", units=3)
    proposed = (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0)
    form = {"sku": sku, "type": "SELL", "quantity": "1", "unit_price": "1.00",
            "at_default": proposed.strftime("%Y-%m-%dT%H:%M:%S"),
            "at": proposed.strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    before = datetime.now(UTC)
    r = await api.post("/transactions/new", data=form, headers={"accept": "text/html"})
    assert r.status_code == 303, r.text
    sale = (await timeline(api, sku))[-1]
    assert datetime.fromisoformat(sale["at"]) >= before - timedelta(seconds=1)  # stamped at commit
