"""One-time notices after an admin form (`admin_notice`), kept for the digest of the session or
token that sent the form; `sealed` holds a secret (a new API token) only that holder can open."""

from __future__ import annotations

import asyncpg

from app.domain.immutable import immutable


@immutable
class StoredNotice:
    id: int
    message: str
    sealed: bytes | None
    fresh: bool  # left within the last `minutes`


async def leave(conn: asyncpg.Connection, holder_hash: str, message: str, sealed: bytes | None, minutes: int) -> None:
    """Add a notice, and drop any older than `minutes` (nobody came back for them)."""
    await conn.execute("DELETE FROM admin_notice WHERE created_at < now() - make_interval(mins => $1)", minutes)
    await conn.execute("INSERT INTO admin_notice (holder, message, sealed) VALUES ($1, $2, $3)",
                       holder_hash, message, sealed)  # fmt: skip


async def take(conn: asyncpg.Connection, holder_hash: str, minutes: int) -> list[StoredNotice]:
    """The holder's notices, oldest first, deleted as they are read."""
    rows = await conn.fetch(
        """DELETE FROM admin_notice WHERE holder = $1 RETURNING id, message, sealed,
                  created_at > now() - make_interval(mins => $2) AS fresh""",
        holder_hash, minutes,
    )  # fmt: skip
    found = [StoredNotice(r["id"], r["message"], bytes(r["sealed"]) if r["sealed"] is not None else None, r["fresh"])
             for r in rows]  # fmt: skip
    return sorted(found, key=lambda n: n.id)
