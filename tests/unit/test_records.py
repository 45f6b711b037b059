"""Records' shortcut constructors build what `dataclasses.replace` (or `_replace`) builds."""

from dataclasses import fields, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.domain.ledger import Entry, Position
from app.domain.reservations import Status as HoldStatus
from app.domain.rules import Reason, TxType
from app.domain.summary import Totals
from app.persistence.records import ProductRecord, ReservationRecord

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


HOLD = ReservationRecord(11, 7, "SKU-7", "order-11", 3, HoldStatus.ACTIVE, THEN, LATER, None, Decimal("1.5000"), None,
                         "STORE")  # fmt: skip


def test_a_hold_ended_or_named_by_its_sale_keeps_every_other_field() -> None:
    assert HOLD.ended(HoldStatus.CONFIRMED, LATER, Decimal("9.9900")) == replace(
        HOLD, status=HoldStatus.CONFIRMED, ended_at=LATER, unit_price=Decimal("9.9900")
    )
    assert HOLD.became(42) == replace(HOLD, transaction_id=42)
    assert len(fields(ReservationRecord)) == 12  # a new field: give it its place in ended and became


def test_an_entry_stored_keeps_every_field_but_its_id() -> None:
    entry = Entry(5, THEN, TxType.TRANSFER, 2, Decimal("1.0000"), Reason.LOSS, None, "STORE", "MAIN")
    assert entry.stored_as(99) == entry._replace(id=99)


def test_records_are_frozen_to_the_type_checker_and_hash_as_frozen_ones_do() -> None:
    # Assigning a field is a mypy error (app/domain/immutable.py); equal records hash alike.
    assert hash(HOLD) == hash(replace(HOLD))
    assert {HOLD: "found"}[replace(HOLD)] == "found"
