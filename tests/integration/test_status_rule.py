"""The stock status rule is written once (domain.summary.status_limits); the SQL that filters and
sorts the catalogue by it is generated from it. Both must give every product the same status."""

from __future__ import annotations

import asyncpg
import pytest

from app.domain.summary import Status, status
from app.persistence.products import SORTS, STATUS_SQL

pytestmark = pytest.mark.integration

WORST_FIRST = [Status.OUT, Status.LOW, Status.OK]


async def test_the_sql_status_and_its_sort_rank_are_the_domain_rule(db: asyncpg.Connection) -> None:
    grid = [(on_hand, held, low) for on_hand in range(-2, 9) for held in (0, 1, 3) for low in (0, 1, 4, 6)]
    rows = await db.fetch(
        f"""SELECT on_hand, live_reserved, low_stock_threshold, {STATUS_SQL} AS status, {SORTS["status"]} AS rank
            FROM unnest($1::bigint[], $2::bigint[], $3::int[]) AS p(on_hand, live_reserved, low_stock_threshold)""",
        *(list(column) for column in zip(*grid, strict=True)),
    )  # fmt: skip
    assert len(rows) == len(grid)
    for r in rows:
        expected = status(r["on_hand"] - r["live_reserved"], r["low_stock_threshold"])
        assert r["status"] == expected.value, dict(r)
        assert r["rank"] == WORST_FIRST.index(expected), dict(r)
