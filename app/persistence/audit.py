"""The audit log of ledger edits, deletes and voids: who, when, the row before and after (JSON)."""

from __future__ import annotations

import asyncpg


async def record(
    conn: asyncpg.Connection, actor: str, action: str, tx_id: int, before: str | None, after: str | None
) -> None:
    await conn.execute(
        """INSERT INTO audit_log (actor, action, transaction_id, before, after)
           VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)""",
        actor, action, tx_id, before, after,
    )  # fmt: skip
