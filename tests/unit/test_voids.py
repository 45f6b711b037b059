"""The counter's void rule: a clerk's own entry, recorded in the last 10 minutes, dated today."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.domain.voids import VoidFacts, VoidRefused, refuse_void

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def reasons(at: datetime, facts: VoidFacts, zone=UTC) -> list[str]:
    try:
        refuse_void(7, at, facts, now=NOW, zone=zone)
    except VoidRefused as refused:
        assert refused.detail.startswith("You can't void transaction 7: ")
        return refused.extra["reasons"]
    return []


def test_their_own_entry_of_the_last_ten_minutes_dated_today_may_be_voided():
    assert reasons(NOW, VoidFacts(NOW - timedelta(minutes=10), True, False)) == []


@pytest.mark.parametrize(
    ("at", "facts", "why"),
    [
        (NOW, VoidFacts(NOW, False, False), "not recorded by you"),
        (NOW, VoidFacts(NOW - timedelta(minutes=10, seconds=1), True, False), "recorded 10 minutes ago"),
        (NOW, VoidFacts(NOW - timedelta(hours=3), True, False), "recorded 3 h ago"),
        (NOW - timedelta(days=1), VoidFacts(NOW, True, False), "dated 29 Nov 2026, not today"),
        (NOW, VoidFacts(NOW, True, True), "a manager has changed it since"),
    ],
)
def test_anything_else_is_refused_naming_why(at, facts, why):
    found = reasons(at, facts)
    assert len(found) == 1 and why in found[0]


def test_every_reason_is_named_and_today_is_the_business_days():
    tokyo = ZoneInfo("Asia/Tokyo")  # NOW is 21:00 on 30 Nov in Tokyo; 23:30 UTC on 29 Nov is 08:30 on 30 Nov there
    early = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert reasons(early, VoidFacts(NOW, True, False), tokyo) == []
    assert reasons(early, VoidFacts(NOW, True, False), UTC) == ["it is dated 29 Nov 2026, not today"]
    assert len(reasons(NOW - timedelta(days=2), VoidFacts(NOW - timedelta(days=2), False, True))) == 4
