"""The app's settings table (`app_setting`: text key, text value). One setting today:
`books_closed_through`, an ISO date or NULL (nothing dated on or before it may change)."""

from __future__ import annotations

from datetime import date

import asyncpg

CLOSED_THROUGH = "books_closed_through"
# As a subquery, for statements that read the setting together with other things (a batch's start).
CLOSED_THROUGH_SQL = f"(SELECT value FROM app_setting WHERE key = '{CLOSED_THROUGH}')"


def closed_through_from(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


async def books_closed_through(conn: asyncpg.Connection) -> date | None:
    value: str | None = await conn.fetchval(f"SELECT {CLOSED_THROUGH_SQL}")
    return closed_through_from(value)


async def set_books_closed_through(conn: asyncpg.Connection, value: date | None) -> None:
    await conn.execute(
        """INSERT INTO app_setting (key, value) VALUES ($1, $2)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
        CLOSED_THROUGH, value.isoformat() if value else None,
    )  # fmt: skip
