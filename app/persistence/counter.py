"""The counter's reads: who recorded a transaction, and a user's entries of the last minutes.

A transaction row does not name who recorded it. An entry made through the form (or the API with an
`Idempotency-Key`) has its outcome kept with the key, per user, in the same database transaction
as the row (SPEC §3), and the key names the row it recorded (`idempotency_key.transaction_id`): that
is the proof that this user recorded it. Keys are kept 48 hours, far longer than the 10-minute void window.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from app.domain.voids import VOID_WINDOW, VoidFacts

# A key that recorded the transaction, kept by one of these scopes (no other outcome names a row).
_RECORDED_BY = """
    SELECT 1 FROM idempotency_key k WHERE k.scope = ANY($2::text[]) AND k.transaction_id = t.id
"""
_EDITED = "EXISTS (SELECT 1 FROM audit_log a WHERE a.transaction_id = t.id AND a.action = 'edit')"


async def void_facts(conn: asyncpg.Connection, tx_id: int, scopes: Sequence[str]) -> VoidFacts | None:
    """What the void rule needs about a transaction, read in the caller's transaction."""
    row = await conn.fetchrow(
        f"""SELECT t.created_at, EXISTS ({_RECORDED_BY}) AS mine, {_EDITED} AS edited
            FROM stock_transaction t WHERE t.id = $1""",
        tx_id, list(scopes),
    )  # fmt: skip
    return VoidFacts(row["created_at"], row["mine"], row["edited"]) if row else None


async def recent_entries(conn: asyncpg.Connection, scopes: Sequence[str], limit: int) -> list[dict[str, Any]]:
    """The transactions these scopes recorded in the void window and still there, newest first."""
    rows = await conn.fetch(
        f"""SELECT t.id, t.type, t.quantity, t.unit_price, t.at, t.reason, t.created_at, p.sku, p.name,
                   {_EDITED} AS edited
            FROM idempotency_key k
            JOIN stock_transaction t ON t.id = k.transaction_id
            JOIN product p ON p.id = t.product
            WHERE k.scope = ANY($1::text[]) AND k.created_at > now() - $2::interval
            ORDER BY t.created_at DESC, t.id DESC LIMIT $3""",
        list(scopes), VOID_WINDOW, limit,
    )  # fmt: skip
    return [dict(r) for r in rows]


async def voided(conn: asyncpg.Connection, tx_id: int) -> dict[str, Any] | None:
    """A voided transaction as it was (from its audit entry), with its product's name."""
    row = await conn.fetchrow(
        """SELECT a.before, p.name FROM audit_log a JOIN product p ON p.sku = a.before->>'sku'
           WHERE a.transaction_id = $1 AND a.action = 'void' ORDER BY a.id DESC LIMIT 1""",
        tx_id,
    )
    return {**json.loads(row["before"]), "name": row["name"]} if row else None
