"""A stock-over-time chart drawn on the server as SVG (no chart script)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

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
