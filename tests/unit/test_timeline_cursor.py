from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.domain.timeline_cursor import cursor_of, key_of


@pytest.mark.parametrize(
    "key",
    [
        (datetime(2026, 1, 1, 9, 0, 0, 123456, tzinfo=UTC), 1),
        (datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 2**62),
        (datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=-5))), 42),
    ],
)
def test_a_cursor_names_its_row_key_exactly(key):
    assert key_of(cursor_of(key)) == key


@pytest.mark.parametrize(
    "raw", ["", "1", "1_", "_1", "1_-2", "a_1", "1_2_3", "9" * 20 + "_1", "999999999999999999_1", "1_" + "9" * 19]
)
def test_anything_else_is_not_a_cursor(raw):
    with pytest.raises(ValueError):
        key_of(raw)
