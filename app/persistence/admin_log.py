"""The administration log (`admin_log`): who changed a user, a token or a setting, and how."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

COLUMNS = ("at", "actor", "action", "subject", "detail")  # an entry as listed; `detail` is JSON


async def record(conn: asyncpg.Connection, actor: str, action: str, subject: str, detail: object) -> None:
    await conn.execute("INSERT INTO admin_log (actor, action, subject, detail) VALUES ($1, $2, $3, $4)",
                       actor[:100], action, subject[:200], None if detail is None else json.dumps(detail))  # fmt: skip


async def latest(conn: asyncpg.Connection, limit: int) -> list[dict[str, Any]]:
    rows = await conn.fetch(f"SELECT {', '.join(COLUMNS)} FROM admin_log ORDER BY id DESC LIMIT $1", limit)
    return [{**{c: r[c] for c in COLUMNS}, "detail": json.loads(r["detail"]) if r["detail"] else None} for r in rows]
