"""Reservation states: what confirm and cancel may do from each."""

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.errors import InvalidInput
from app.domain.reservations import Status, Verdict, effective, on_cancel, on_confirm
from app.intake.requests import parse_confirm, parse_reservation

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_an_active_reservation_past_its_time_reads_as_expired():
    assert effective(Status.ACTIVE, NOW, NOW) is Status.EXPIRED
    assert effective(Status.ACTIVE, NOW + timedelta(seconds=1), NOW) is Status.ACTIVE
    assert effective(Status.CONFIRMED, NOW - timedelta(days=1), NOW) is Status.CONFIRMED


@pytest.mark.parametrize(
    ("status", "confirm", "cancel"),
    [
        (Status.ACTIVE, Verdict.APPLY, Verdict.APPLY),
        (Status.CONFIRMED, Verdict.UNCHANGED, Verdict.CONFLICT),
        (Status.CANCELLED, Verdict.CONFLICT, Verdict.UNCHANGED),
        (Status.EXPIRED, Verdict.CONFLICT, Verdict.UNCHANGED),
    ],
)
def test_confirm_and_cancel_from_each_state(status, confirm, cancel):
    assert (on_confirm(status), on_cancel(status)) == (confirm, cancel)


def test_a_reservation_defaults_to_fifteen_minutes_and_names_bad_fields():
    assert parse_reservation({"sku": "A-1", "quantity": 2, "order_ref": " web-7 "}).ttl_seconds == 900
    assert parse_reservation({"sku": "A-1", "quantity": 2, "order_ref": " web-7 "}).order_ref == "web-7"
    with pytest.raises(InvalidInput) as caught:
        parse_reservation({"sku": "A-1", "quantity": -1, "order_ref": "", "ttl_seconds": 10**9, "x": 1})
    assert {e.field for e in caught.value.errors} == {"quantity", "order_ref", "ttl_seconds", "x"}


def test_confirm_needs_a_valid_price():
    assert str(parse_confirm({"unit_price": "4.5"})) == "4.5000"
    with pytest.raises(InvalidInput):
        parse_confirm({})
    with pytest.raises(InvalidInput):
        parse_confirm({"unit_price": "NaN"})
