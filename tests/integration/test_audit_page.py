"""The audit log page reads as a manager reads it: which row, and what an edit changed."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.conftest import bearer
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration


async def audit_page(server, tokens) -> str:
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["manager"])) as manager:
        return html.unescape((await manager.get("/audit")).text)


def entry_of(page: str, tx_id: int, action: str) -> str:
    """The text of the page's row for this transaction and action (the newest such)."""
    row = re.search(rf'<td data-label="What">{action}</td>\s*<td class="num" data-label="Transaction">{tx_id}</td>'
                    r'(.*?)</tr>', page, re.S)  # fmt: skip
    assert row, f"no {action} of {tx_id} on the audit page"
    return row.group(1)


async def test_an_edit_is_listed_as_the_fields_it_changed_from_what_to_what(server, api, tokens):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 3, "1.00")
    r = await api.patch(f"/api/transactions/{buy['id']}", json={"quantity": 5, "unit_price": "1.25"})
    assert r.status_code == 200, r.text
    entry = entry_of(await audit_page(server, tokens), buy["id"], "edit")
    assert f"Purchase of 3 × {sku} at 1.00 on" in entry  # the row as it was
    assert "quantity: <del>3</del> → <ins>5</ins>" in entry
    assert "unit price: <del>1.00</del> → <ins>1.25</ins>" in entry
    assert "note:" not in entry and "type:" not in entry  # what did not change is not listed
    assert '"unit_price": "1.2500"' in entry  # the rows as recorded, folded below


async def test_a_note_added_reads_from_none_and_a_delete_names_the_row_it_took(server, api, tokens):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 4, "2.50")
    assert (await api.patch(f"/api/transactions/{buy['id']}", json={"note": "damaged box"})).status_code == 200
    page = await audit_page(server, tokens)
    assert "note: <del>—</del> → <ins>damaged box</ins>" in entry_of(page, buy["id"], "edit")
    assert (await api.delete(f"/api/transactions/{buy['id']}")).status_code == 204
    deleted = entry_of(await audit_page(server, tokens), buy["id"], "delete")
    assert f"Purchase of 4 × {sku} at 2.50 on" in deleted and "<del>" not in deleted
