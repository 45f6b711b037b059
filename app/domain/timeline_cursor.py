"""A place in a product's timeline, as a cursor a URL can carry: the key (`at`, `seq`) of a row.

Pages of a timeline are read by key ("the 50 rows after this one"), never by OFFSET, so the last
page of a 1,000,000-row product costs what the first does (one index range scan). The cursor is
the key written as `<microseconds since 1970>_<seq>`: exact, URL-safe, and meaningless to edit.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.domain.ledger import TimelineKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CURSOR = re.compile(r"(-?[0-9]{1,19})_([0-9]{1,19})")
_BIGINT = 2**63 - 1


def cursor_of(key: TimelineKey) -> str:
    at, seq = key
    return f"{(at - _EPOCH) // _MICROSECOND}_{seq}"


def key_of(cursor: str) -> TimelineKey:
    """The key a cursor names; ValueError for anything `cursor_of` does not write."""
    found = _CURSOR.fullmatch(cursor)
    if found is None or int(found[2]) > _BIGINT:
        raise ValueError("not a timeline cursor")
    try:
        at = _EPOCH + int(found[1]) * _MICROSECOND
    except OverflowError:
        raise ValueError("not a timeline cursor") from None
    return at, int(found[2])
