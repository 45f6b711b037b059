"""The product page's monthly table and stock chart read only what they show (issue 13): the latest
months, each from its own range of the timeline, and the stock at evenly spaced moments. At a few
thousand rows over more than a year, their figures are those a plain computation over every row gives."""

from __future__ import annotations

import html
import os
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app.services.ledger import even_moments
from app.settings import Settings
from app.web.chart import stock_chart
from app.web.pages.products import MONTHS_SHOWN
from app.web.templating import cost
from tests.integration.helpers import make_product

pytestmark = pytest.mark.integration

ROWS = 3_000
START = datetime(2025, 1, 1, 6, tzinfo=UTC)
ZONE = ZoneInfo(os.environ.get("INVENTORY_TIMEZONE", "UTC"))  # the test servers' business time zone
SHOWN = Settings.from_env().display()  # the test servers' formats: they read the same environment
money, units = SHOWN.money, SHOWN.units


def import_file(sku: str) -> str:
    """ROWS transactions over about 17 months: sales, restocks at varying prices, damage and counts;
    pairs of rows share a time (seq breaks the tie), and a month in the middle holds none."""
    lines = ["external_id,sku,product_name,type,quantity,unit_price,at,reason,note",
             f"{sku}-0,{sku},Big,BUY,100000,3.0000,{START.isoformat()},,"]  # fmt: skip
    for i in range(1, ROWS):
        at = START + timedelta(hours=8 * (i // 2) + 8)
        if at.year == 2025 and at.month == 9:
            at += timedelta(days=31)  # September 2025: nothing
        if i % 11 == 0:
            row = f"BUY,{40 + i % 23},{3 + Decimal(i % 7) / 3:.4f},{at.isoformat()},,"
        elif i % 37 == 0:
            row = f"ADJUST,-{1 + i % 4},,{at.isoformat()},damage,"
        elif i % 401 == 0:
            row = f"COUNT,{95_000 - i},,{at.isoformat()},,"
        else:
            row = f"SELL,{1 + i % 5},{9 + Decimal(i % 3) / 4:.2f},{at.isoformat()},,"
        lines.append(f"{sku}-{i},{sku},,{row}")
    return "\n".join(lines) + "\n"


def plain_months(rows: list[Any]) -> list[dict[str, Any]]:
    """Every month's figures, summed row by row in Python, oldest first."""
    months: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "bought": 0, "sold": 0, "adjusted": 0, **{k: Decimal(0) for k in ("revenue", "cogs", "realized_pl",
                                                                         "write_off", "gain")}})  # fmt: skip
    for r in rows:
        m = months[r["at"].astimezone(ZONE).strftime("%Y-%m")]
        kind = {"BUY": "bought", "SELL": "sold", "ADJUST": "adjusted"}.get(r["type"])
        if kind:
            m[kind] += r["quantity"]
        for k in ("revenue", "cogs", "realized_pl", "write_off", "gain"):
            m[k] += r[k]
        m["closing_stock"], m["closing_average_cost"] = r["stock_after"], r["average_cost_after"]
    return [{"month": month, **{k: str(v) if isinstance(v, Decimal) else v for k, v in m.items()}}
            for month, m in sorted(months.items())]  # fmt: skip


def plain_points(rows: list[Any], most: int = 400) -> list[tuple[datetime, int]]:
    """The stock after the last row at or before each of the chart's moments, found by walking every row."""
    points: list[tuple[datetime, int]] = []
    i = 0
    for moment in even_moments(rows[0]["at"], rows[-1]["at"], most):
        while i + 1 < len(rows) and rows[i + 1]["at"] <= moment:
            i += 1
        if not points or points[-1] != (rows[i]["at"], rows[i]["stock_after"]):
            points.append((rows[i]["at"], rows[i]["stock_after"]))
    return points


async def test_the_monthly_table_and_the_chart_equal_a_plain_computation_over_every_row(api, db):
    sku = await make_product(api)
    imported = await api.post("/api/import", content=import_file(sku).encode())
    assert imported.status_code == 201, imported.text
    rows = await db.fetch(
        """SELECT t.at, t.seq, t.type, t.quantity, t.revenue, t.cogs, t.realized_pl, t.write_off, t.gain,
                  t.stock_after, t.average_cost_after
           FROM stock_transaction t JOIN product p ON p.id = t.product WHERE p.sku = $1 ORDER BY t.at, t.seq""",
        sku,
    )
    assert len(rows) == ROWS
    expected = plain_months(rows)
    assert len(expected) > MONTHS_SHOWN + 2 and "2025-09" not in [m["month"] for m in expected]

    # Every month, as the API and the monthly report give them.
    assert (await api.get(f"/api/products/{sku}/monthly")).json()["items"] == expected

    page = (await api.get(f"/products/{sku}")).text
    # The page's table: the latest MONTHS_SHOWN months, newest first, each figure as the filters show it.
    shown = re.findall(r'<tr data-month="([^"]+)">(.*?)</tr>', page, re.S)
    assert [month for month, _ in shown] == [m["month"] for m in reversed(expected[-MONTHS_SHOWN:])]
    for (month, cells), want in zip(shown, reversed(expected[-MONTHS_SHOWN:]), strict=True):
        got = dict(re.findall(r'data-field="([a-z_]+)">(.*?)</td>', cells, re.S))
        assert got == {
            "bought": units(want["bought"]), "sold": units(want["sold"]), "revenue": money(want["revenue"]),
            "cogs": money(want["cogs"]), "realized_pl": money(want["realized_pl"]),
            "write_off": money(want["write_off"]), "gain": money(want["gain"]),
            "closing_stock": units(want["closing_stock"]),
            "closing_average_cost": str(cost(SHOWN, want["closing_average_cost"])),
        }, month  # fmt: skip
    assert f'href="/reports/monthly?sku={sku}">Every month</a>' in page

    # The chart: the stock at 401 evenly spaced moments, drawn as from the rows themselves.
    points = plain_points(rows)
    assert 300 < len(points) <= 401 and points[0][0] == rows[0]["at"]
    assert points[-1] == (rows[-1]["at"], rows[-1]["stock_after"])
    chart = stock_chart(points, ZONE)
    assert chart is not None
    drawn = re.search(r'<path d="([^"]+)" class="line"/>', page)
    assert drawn and html.unescape(drawn.group(1)) == chart.path
    assert f">{units(chart.top)}</text>" in page


async def test_a_short_history_shows_every_month_and_every_row_of_the_chart(api, db):
    sku = await make_product(api)
    body = "\n".join(["external_id,sku,type,quantity,unit_price,at",
                      f"{sku}-a,{sku},BUY,10,2.00,2026-01-05T09:00:00+00:00",
                      f"{sku}-b,{sku},SELL,4,5.00,2026-02-05T09:00:00+00:00",
                      f"{sku}-c,{sku},SELL,1,5.00,2026-02-06T09:00:00+00:00"]) + "\n"  # fmt: skip
    assert (await api.post("/api/import", content=body.encode())).status_code == 201
    page = (await api.get(f"/products/{sku}")).text
    assert re.findall(r'<tr data-month="([^"]+)">', page) == ["2026-02", "2026-01"]
    assert "Every month</a>" not in page
    at = [datetime(2026, 1, 5, 9, tzinfo=UTC), datetime(2026, 2, 5, 9, tzinfo=UTC), datetime(2026, 2, 6, 9, tzinfo=UTC)]
    chart = stock_chart(list(zip(at, [10, 6, 5], strict=True)), ZONE)
    assert chart is not None and f'<path d="{chart.path}" class="line"/>' in page
