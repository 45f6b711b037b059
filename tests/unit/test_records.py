"""A product record's shortcut constructors build what `dataclasses.replace` builds."""

from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.ledger import Position
from app.domain.summary import Totals
from app.persistence.records import ProductRecord

pytestmark = pytest.mark.unit


THEN, LATER = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)
# Every field a distinct value, so that a field taken from the wrong place shows.
PRODUCT = ProductRecord(
    7, "SKU-7", "Seven", "cat", "brand", 3, 90, 30, THEN, Position(5, Decimal("2.000000")), 2,
    Totals(Decimal("1.00")), 4, (THEN, 9), THEN, THEN, True, "4006381333931", Decimal("9.9900"), "STORE",
    {"STORE": 5}, {"STORE": 2},
)  # fmt: skip


def test_with_figures_changes_the_figures_and_keeps_every_other_field() -> None:
    product, later = PRODUCT, LATER
    changed = {
        "position": Position(4, Decimal("2.500000")), "stocks": {"STORE": 4, "MAIN": 0},
        "totals": Totals(Decimal("3.00"), units_out=1), "tx_count": 5, "last_key": (later, 10),
        "last_counted_at": later, "last_sale_at": later,
    }  # fmt: skip
    assert product.with_figures(**changed) == replace(product, **changed)
    assert len(fields(ProductRecord)) == 22  # a new field: give it its place in with_figures


def test_with_holds_changes_what_is_held_and_keeps_every_other_field() -> None:
    assert PRODUCT.with_holds(1, {"STORE": 1}) == replace(PRODUCT, reserved=1, held={"STORE": 1})
    assert len(fields(ProductRecord)) == 22  # a new field: give it its place in with_holds
