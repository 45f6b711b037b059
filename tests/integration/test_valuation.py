"""Stock and value as of any moment (`GET /api/reports/valuation?at=`), checked against a replay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.ledger import Entry, Replay, replay
from app.domain.rules import Reason, TxType
from app.domain.summary import inventory_value
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration

HISTORY = [  # type, quantity, unit price, at — recorded out of order, some backdated
    ("BUY", 10, "2.00", "2026-01-05T09:00:00+00:00"),
    ("BUY", 6, "5.00", "2026-02-03T09:00:00+00:00"),
    ("SELL", 4, "9.00", "2026-01-20T09:00:00+00:00"),
    ("ADJUST", -1, None, "2026-01-31T23:30:00+00:00"),
    ("COUNT", 12, None, "2026-02-10T09:00:00+00:00"),
    ("BUY", 3, "4.1234", "2026-01-12T09:00:00+00:00"),
]


def replayed_until(moment: datetime) -> tuple[int, Decimal]:
    """The position after every entry dated at or before `moment`, by the pure fold."""
    entries = [
        Entry(seq, datetime.fromisoformat(at), TxType(kind), quantity, Decimal(price) if price else None,
              Reason.DAMAGE if kind == "ADJUST" else None)
        for seq, (kind, quantity, price, at) in enumerate(HISTORY, start=1)
        if datetime.fromisoformat(at) <= moment
    ]  # fmt: skip
    outcome = replay(sorted(entries, key=lambda e: e.key))
    assert isinstance(outcome, Replay)
    return outcome.end.stock, outcome.end.average_cost


@pytest.mark.parametrize(
    ("at", "moment"),
    [
        ("2026-01-10T00:00:00Z", datetime(2026, 1, 10, tzinfo=UTC)),
        ("2026-01-31", datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)),  # a date: its end
        ("2026-02-05T12:00:00+00:00", datetime(2026, 2, 5, 12, tzinfo=UTC)),
    ],
)
async def test_valuation_at_a_past_moment_equals_a_replay_of_the_ledger_until_then(api, at, moment):
    category = f"val-{uuid.uuid4().hex[:8]}"
    sku = await make_product(api, category=category)
    for kind, quantity, price, when in HISTORY:
        extra = {"reason": "damage"} if kind == "ADJUST" else {}
        await record(api, sku, kind, quantity, price, at=when, **extra)
    r = await api.get("/api/reports/valuation", params={"at": at})
    assert r.status_code == 200, r.text
    body = r.json()
    row = next(i for i in body["items"] if i["sku"] == sku)
    stock, cost = replayed_until(moment)
    assert (row["on_hand"], Decimal(row["average_cost"])) == (stock, cost)
    assert Decimal(row["inventory_value"]) == inventory_value(stock, cost)
    group = next(g for g in body["by_category"] if g["category"] == category)
    assert (group["on_hand"], Decimal(group["inventory_value"])) == (stock, inventory_value(stock, cost))
    assert Decimal(body["totals"]["inventory_value"]) == sum(Decimal(i["inventory_value"]) for i in body["items"])


async def test_valuation_before_a_products_first_transaction_leaves_it_out_and_bad_moments_are_400(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00", at="2026-03-01T09:00:00+00:00")
    before = (await api.get("/api/reports/valuation", params={"at": "2026-02-28"})).json()
    assert sku not in {i["sku"] for i in before["items"]}
    bad = await api.get("/api/reports/valuation", params={"at": "yesterday"})
    assert bad.status_code == 400 and "at" in bad.text
    as_csv = await api.get("/api/reports/valuation", params={"at": "2026-03-02", "format": "csv"})
    assert as_csv.status_code == 200 and sku in as_csv.text


async def test_the_valuation_page_shows_the_chosen_days_figures(api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 7, "3.00", at="2026-04-01T09:00:00+00:00")
    await record(api, sku, "SELL", 2, "5.00", at="2026-04-03T09:00:00+00:00")
    page = await api.get("/reports/valuation", params={"at": "2026-04-02"}, headers={"Accept": "text/html"})
    assert page.status_code == 200
    row = page.text[page.text.index(f">{sku}<"):][:2000]
    assert ">7<" in row and "21.00" in row  # 7 on hand worth 21.00 on April 2nd, before the sale
    assert 'value="2026-04-02"' in page.text
