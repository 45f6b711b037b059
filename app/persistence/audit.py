"""The audit log of ledger edits, deletes and voids: who, when, and the row before and after (as
`audit_document` writes it)."""

from __future__ import annotations

from typing import Any

import asyncpg

from app.persistence.audit_document import audit_document
from app.persistence.records import LedgerRow


async def record(conn: asyncpg.Connection, actor: str, action: str, before: LedgerRow, after: LedgerRow | None) -> None:
    """`action` ("edit", "delete", "void") of the row `before` by `actor`; `after` for an edit."""
    await conn.execute(
        """INSERT INTO audit_log (actor, action, transaction_id, before, after)
           VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)""",
        actor, action, before.entry.id or 0, audit_document(before), audit_document(after) if after else None,
    )  # fmt: skip


LISTED = ("id", "at", "actor", "action", "transaction_id", "before", "after")  # an entry as the audit page lists it


async def latest(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    """The newest entries first; `before` and `after` as the JSON text stored."""
    rows = await conn.fetch(f"SELECT {', '.join(LISTED)} FROM audit_log ORDER BY id DESC LIMIT $1", limit)
    return [{c: r[c] for c in LISTED} for r in rows]
