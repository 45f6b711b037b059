"""A valuation's sums read in parts (ranges of SKUs, at once) add up to the sums of the whole: totals,
each category once in the order of its first SKU, and the marks of every part numbered across them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.persistence.reports import MARK_EVERY, ValuedSums, combined

pytestmark = pytest.mark.unit


def part(products: list[tuple[str, str | None, int, str]]) -> ValuedSums:
    """The sums valued_sums answers for these (sku, category, on_hand, value) products, in SKU order."""
    groups: dict[str | None, dict[str, object]] = {}
    for _sku, category, on_hand, value in products:
        g = groups.setdefault(category, {"category": category, "products": 0, "on_hand": 0,
                                         "inventory_value": Decimal(0)})  # fmt: skip
        g["products"] += 1  # type: ignore[operator]
        g["on_hand"] += on_hand  # type: ignore[operator]
        g["inventory_value"] += Decimal(value)  # type: ignore[operator]
    totals = {"products": len(products), "on_hand": sum(p[2] for p in products),
              "inventory_value": sum((Decimal(p[3]) for p in products), Decimal(0))}  # fmt: skip
    marks = tuple((n, products[n][0]) for n in range(0, len(products), MARK_EVERY))
    return ValuedSums(totals, list(groups.values()), marks)  # categories by their first SKU, as SQL orders them


def catalogue(count: int) -> list[tuple[str, str | None, int, str]]:
    return [(f"S-{n:05d}", (None, "tea", "cups")[n % 3] if n < 150 else "pots", n % 7, f"{n % 11}.{n % 100:02d}")
            for n in range(count)]  # fmt: skip


@pytest.mark.parametrize("cuts", [[], [0], [137], [100, 101], [37, 250, 251], [349]])
def test_parts_add_up_to_the_whole(cuts):
    products = catalogue(350)
    bounds = [0, *cuts, len(products)]
    parts = [part(products[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    whole, together = part(products), combined(parts)
    assert together.totals == whole.totals
    assert together.by_category == whole.by_category
    # Every part marks its own every 100th product: numbered across the parts, each mark still names
    # the product at its place, and no two marks are more than MARK_EVERY apart.
    assert together.marks[0] == (0, products[0][0])
    assert all(products[n][0] == sku for n, sku in together.marks)
    places = [n for n, _ in together.marks]
    assert places == sorted(places) and all(b - a <= MARK_EVERY for a, b in zip(places, places[1:], strict=False))


def test_no_parts_and_empty_parts_are_nothing():
    empty = ValuedSums({"products": 0, "on_hand": 0, "inventory_value": 0}, [], ())
    assert combined([empty, empty]) == empty
    assert combined([empty, part(catalogue(3))]).marks == ((0, "S-00000"),)
