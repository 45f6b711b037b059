"""Messages name things the way the pages do: "the sale of 6 on Nov 23, 2026 11:00", not ids and ISO times."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration
HTML = {"accept": "text/html"}


def shown_time(page: str, tx_id: int) -> str:
    """The time of a transaction as its timeline row shows it."""
    found = re.search(rf'id="tx-{tx_id}".*?<time [^>]*>([^<]+)</time>', page, re.S)
    assert found, f"no row for transaction {tx_id}"
    return found.group(1)


async def test_a_rejected_history_edit_names_the_breaking_sale_as_the_timeline_does(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 10, "2.00", at="2026-11-20T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 6, "3.00", at="2026-11-23T11:00:00+00:00")

    r = await api.patch(f"/api/transactions/{buy['id']}", json={"quantity": 4})

    assert r.status_code == 409
    body = r.json()
    when = shown_time((await api.get(f"/products/{sku}", headers=HTML)).text, sell["id"])
    assert when == "Nov 23, 2026 11:00"
    assert body["detail"] == (f"Rejected for {sku}: the sale of 6 on {when} would leave stock at -2; "
                              "only 4 on hand at that point. Nothing was changed.")  # fmt: skip
    assert "transaction" not in body["detail"] and "2026-11-23T" not in body["detail"]
    # The API keeps the ids and the ISO time for programs.
    extra = body["extra"]
    assert (extra["transaction_id"], extra["seq"], extra["type"], extra["stock_after"]) == (
        sell["id"], sell["seq"], "SELL", -2)  # fmt: skip
    assert datetime.fromisoformat(extra["at"]) == datetime.fromisoformat(sell["at"])


async def test_a_new_backdated_sale_that_breaks_is_called_the_new_sale(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 3, "2.00", at="2026-11-20T09:00:00+00:00")
    r = await api.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 5, "unit_price": "1",
                                                  "at": "2026-11-21T16:30:00+00:00"})  # fmt: skip
    assert r.status_code == 409
    assert "the new sale of 5 on Nov 21, 2026 16:30 would leave stock at -2" in r.json()["detail"]
    assert r.json()["extra"]["transaction_id"] is None


async def test_the_page_shows_the_same_words_beside_the_row(api):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 3, "2.00", at="2026-03-01T09:00:00+00:00")
    sell = await record(api, sku, "SELL", 3, "5.00", at="2026-03-02T09:05:00+00:00")
    preview = (await api.get(f"/transactions/{buy['id']}/delete", headers={"HX-Request": "true"})).text
    page = (await api.get(f"/products/{sku}", headers=HTML)).text
    assert f"the sale of 3 on {shown_time(page, sell['id'])} would leave stock at -3" in preview
    assert f"transaction {sell['id']}" not in preview


async def test_a_refusal_writes_both_stock_figures_as_the_page_writes_numbers(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    sale = {"sku": sku, "type": "SELL", "quantity": 999_999_999, "unit_price": "1"}
    r = await api.post("/api/transactions", json=sale)
    assert r.status_code == 409
    assert "would leave stock at -999,999,994; only 5 on hand" in r.json()["detail"]
