"""The reports' bar charts, drawn on the server: geometry that leaves room for labels and values."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.web.chart import BAR_WIDTH, LABEL_W, bar_chart

pytestmark = pytest.mark.unit


def test_bars_grow_from_zero_and_leave_room_for_the_longest_value():
    chart = bar_chart("Money", [("Value", Decimal("1524230449.84"), "1,524,230,449.84", "money"),
                                ("Revenue", Decimal("447478.47"), "447,478.47", "money")])  # fmt: skip
    assert chart is not None
    value, revenue = chart.bars
    assert value.x == revenue.x == chart.zero == LABEL_W
    assert value.width > revenue.width >= 0  # a tiny one is drawn 1 unit wide by the template
    assert value.x + value.width + 7 * len("1,524,230,449.84") <= BAR_WIDTH  # the value's text fits after the bar


def test_a_negative_value_goes_left_of_the_zero_line():
    chart = bar_chart("Money", [("Realized P/L", Decimal("-50"), "-50.00", "loss"),
                                ("Revenue", 150, "150.00", "money")])  # fmt: skip
    assert chart is not None
    loss, revenue = chart.bars
    assert loss.x + loss.width == pytest.approx(chart.zero) and revenue.x == chart.zero
    assert revenue.width == pytest.approx(3 * loss.width, rel=0.01)


def test_long_labels_are_cut_and_kept_whole_in_the_title():
    chart = bar_chart("Units", [("PHONE-LONG-SKU-CERAMIC-0123", 5, "5", "units")])
    assert chart is not None and chart.bars[0].label == "PHONE-LONG-SKU-…" and chart.bars[0].title.startswith(
        "PHONE-LONG-SKU-CERAMIC-0123: ")  # fmt: skip
    assert bar_chart("Nothing", []) is None
