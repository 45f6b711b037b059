"""Pages of a shop that set its currency and locale: every amount in them, the API unchanged."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Server, bearer, start_server
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration
NBSP = "\xa0"


@pytest.fixture(scope="module")
def german_shop(database_url: str, tokens: dict[str, str]) -> Iterator[Server]:
    s = start_server(database_url, INVENTORY_LOCALE="de_DE", INVENTORY_CURRENCY="EUR")
    yield s
    s.stop()


async def test_a_german_shop_sees_euros_and_its_own_dates(api, german_shop, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 3, "2.10", at="2026-11-20T09:00:00+00:00")
    await record(api, sku, "BUY", 4, "2.13", at="2026-11-21T09:00:00+00:00")  # average 2.117143
    await record(api, sku, "BUY", 581, "2.1", at="2026-11-22T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 6, "3.50", at="2026-11-23T11:00:00+00:00")
    product = (await api.get(f"/api/products/{sku}")).json()
    assert product["average_cost"] == "2.100204" and product["inventory_value"] == "1222.32"  # the API as ever

    async with httpx.AsyncClient(base_url=german_shop.url, headers={**bearer(tokens["admin"]), "accept": "text/html"},
                                 timeout=30) as shop:  # fmt: skip
        board = (await shop.get("/", params={"q": sku})).text
        assert re.search(rf'data-field="inventory_value"[^>]*>1.222,32{NBSP}€<', board)
        assert f'<span class="cost" title="2,100204{NBSP}€">2,10{NBSP}€</span>' in board
        assert re.search(r'data-field="on_hand"[^>]*>582<', board)
        page = (await shop.get(f"/products/{sku}")).text
        when = '<time datetime="2026-11-23T11:00:00+00:00">23. Nov. 2026 11:00</time>'
        assert re.search(rf'id="tx-{sell["id"]}".*?{re.escape(when)}', page, re.S)
        assert f"3,50{NBSP}€" in page
        rejected = await shop.patch(f"/api/transactions/{sell['id']}", json={"quantity": 600})
        assert rejected.status_code == 409
        assert "the sale of 600 on 23. Nov. 2026 11:00 would leave stock at -12" in rejected.json()["detail"]
        assert (await shop.get(f"/api/products/{sku}")).json()["average_cost"] == "2.100204"


async def test_a_german_shops_forms_take_a_price_with_a_decimal_comma_and_the_api_stays_plain(api, german_shop, tokens):
    sku = await make_product(api)
    async with httpx.AsyncClient(base_url=german_shop.url, headers={**bearer(tokens["admin"]), "accept": "text/html"},
                                 timeout=30, follow_redirects=False) as shop:  # fmt: skip
        bought = await shop.post("/transactions/new", data={"sku": sku, "type": "BUY", "quantity": "10",
                                                            "unit_price": "4,50"})  # fmt: skip
        assert bought.status_code in (200, 303), bought.text[:500]
        described = await shop.post(f"/products/{sku}/settings", data={"name": "Tee", "sell_price": "6,95"})
        assert described.status_code < 400, described.text[:500]
        held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": f"de-{sku}"})).json()
        confirmed = await shop.post(f"/reservations/{held['id']}/confirm", data={"unit_price": "7,25"})
        assert confirmed.status_code in (200, 303), confirmed.text[:500]
        # Both separators, or a grouped thousand, are not guessed at: refused, and nothing is recorded.
        refused = await shop.post("/transactions/new", data={"sku": sku, "type": "BUY", "quantity": "1",
                                                             "unit_price": "1.234,50"})  # fmt: skip
        assert refused.status_code == 400 and "1.234,50" in refused.text
        # The API keeps its one plain form in every shop.
        plain = {"sku": sku, "type": "BUY", "quantity": 1, "unit_price": "4,50"}
        assert (await shop.post("/api/transactions", json=plain)).status_code == 400
    rows = (await api.get(f"/api/products/{sku}/transactions")).json()["items"]
    assert sorted((r["type"], r["unit_price"]) for r in rows) == [("BUY", "4.5000"), ("SELL", "7.2500")]
    assert (await api.get(f"/api/products/{sku}")).json()["sell_price"] == "6.95"
