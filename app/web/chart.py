"""Charts drawn on the server as SVG (no chart script): stock over time, and bars for the reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 180, 48, 22, 10


@dataclass(frozen=True)
class Chart:
    path: str  # SVG path data of the step line
    top: int  # highest stock, the y-axis label
    first: str  # first and last dates, the x-axis labels
    last: str
    width: int = WIDTH
    height: int = HEIGHT


def stock_chart(points: list[tuple[datetime, int]], zone: tzinfo) -> Chart | None:
    if not points:
        return None
    t0, t1 = points[0][0].timestamp(), points[-1][0].timestamp()
    span = (t1 - t0) or 1.0
    top = max(max(s for _, s in points), 1)
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP

    def x(at: datetime) -> float:
        return PAD_LEFT + (at.timestamp() - t0) / span * plot_w

    def y(stock: int) -> float:
        return PAD_TOP + plot_h - stock / top * plot_h

    parts = [f"M{x(points[0][0]):.1f},{y(points[0][1]):.1f}"]
    for at, stock in points[1:]:
        parts.append(f"H{x(at):.1f}V{y(stock):.1f}")  # stock holds until the next transaction
    return Chart(" ".join(parts), top, points[0][0].astimezone(zone).strftime("%Y-%m-%d"),
                 points[-1][0].astimezone(zone).strftime("%Y-%m-%d"))  # fmt: skip


# --- bar charts (reports) --------------------------------------------------------------------------

BAR_WIDTH, BAR_ROW, LABEL_W, VALUE_W, BAR_PAD = 360, 26, 118, 92, 4


@dataclass(frozen=True)
class Bar:
    label: str  # shown left of the bar (cut to fit; `title` holds the whole of it)
    title: str  # the hover text and accessible name: label and value
    text: str  # the value as the table shows it, right of the bar
    kind: str  # a CSS class: ok, low, out, money, loss, units
    x: float
    y: float
    width: float


@dataclass(frozen=True)
class BarChart:
    title: str
    bars: tuple[Bar, ...]
    zero: float  # x of the zero line
    width: int
    height: int
    row: int = BAR_ROW
    label_w: int = LABEL_W


BarRow = tuple[str, Decimal | int, str, str]  # label, value, the value as shown, kind


def bar_chart(title: str, rows: Sequence[BarRow], *, label_chars: int = 16) -> BarChart | None:
    """Horizontal bars, one per (label, value, text, kind), drawn from a zero line: negative values
    go left of it. Sized for a phone as much as a desk (the SVG scales to the page's width)."""
    if not rows:
        return None
    values = [Decimal(v) for _, v, _, _ in rows]
    low, high = min(min(values), Decimal(0)), max(max(values), Decimal(0))
    span = (high - low) or Decimal(1)
    # The values' column is as wide as the longest value (about 7 units a character at the chart's 12px).
    value_w = min(170, max(VALUE_W, 7 * max(len(text) for _, _, text, _ in rows) + 12))
    area = BAR_WIDTH - LABEL_W - value_w
    zero = LABEL_W + float(-low / span) * area
    bars = []
    for i, ((label, _, text, kind), value) in enumerate(zip(rows, values, strict=True)):
        length = float(abs(value) / span) * area
        x = zero - length if value < 0 else zero
        cut = label if len(label) <= label_chars else label[: label_chars - 1] + "…"
        bars.append(Bar(cut, f"{label}: {text}", text, kind, round(x, 1), i * BAR_ROW + BAR_PAD, round(length, 1)))
    return BarChart(title, tuple(bars), round(zero, 1), BAR_WIDTH, len(rows) * BAR_ROW + 2 * BAR_PAD)
