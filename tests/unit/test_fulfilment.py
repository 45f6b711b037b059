"""Where a confirm without a location takes its units (domain/reservations.fulfilment)."""

from __future__ import annotations

import pytest

from app.domain.reservations import fulfilment

pytestmark = pytest.mark.unit


def test_the_default_location_alone_when_it_has_enough():
    assert fulfilment(3, "MAIN", {"MAIN": 5, "A": 9}, ["MAIN", "A"]) == [("MAIN", 3)]


def test_then_the_other_storage_locations_in_code_order_each_what_is_free():
    free = {"STORE": 1, "B": 2, "A": 0, "MAIN": 4}
    assert fulfilment(6, "STORE", free, ["MAIN", "B", "A"]) == [("STORE", 1), ("B", 2), ("MAIN", 3)]


def test_a_location_not_named_storage_is_passed_over_and_a_short_plan_is_the_callers_to_refuse():
    assert fulfilment(5, "MAIN", {"MAIN": 1, "VAN": 9, "S": -1}, ["MAIN", "S"]) == [("MAIN", 1)]


def test_the_default_location_comes_first_whatever_its_kind_and_is_not_used_twice():
    assert fulfilment(4, "VAN", {"VAN": 2, "MAIN": 5}, ["MAIN", "VAN"]) == [("VAN", 2), ("MAIN", 2)]
