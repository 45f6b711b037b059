"""The counter's reads: who recorded a transaction (see app.persistence.counter for how that is
known), and a user's entries of the last minutes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.persistence import counter as repo
from app.persistence.counter import void_facts
from app.persistence.database import read_only

__all__ = ["recent_entries", "void_facts", "voided"]


async def recent_entries(scopes: Sequence[str], limit: int = 10) -> list[dict[str, Any]]:
    """The caller's transactions recorded in the void window and still there, newest first."""
    async with read_only() as conn:
        return await repo.recent_entries(conn, scopes, limit)


async def voided(tx_id: int) -> dict[str, Any] | None:
    """A voided transaction as it was (from its audit entry), with its product's name."""
    async with read_only() as conn:
        return await repo.voided(conn, tx_id)
