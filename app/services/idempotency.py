"""Idempotency keys (SPEC §3): the first completed response is stored with its key in the same
database transaction as the change, and replayed for every repeat of the same request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.domain.errors import FieldError, InvalidInput, KeyReused
from app.domain.fields import unstorable
from app.persistence.database import read_only

KEY_MAX = 200
KEEP_HOURS = 48  # SPEC: at least 24 h


@dataclass(frozen=True, slots=True)
class Key:
    scope: str
    key: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Stored:
    status_code: int
    body: Any


class Repeated(Exception):
    """This request's key was claimed by an earlier one: answer with its stored response."""

    def __init__(self, key: Key) -> None:
        super().__init__(key.key)
        self.key = key


def fingerprint(fields: Mapping[str, Any]) -> str:
    canonical = json.dumps({k: str(v) for k, v in fields.items() if v not in (None, "")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def key_for(raw_key: str | None, fields: Mapping[str, Any], scope: str) -> Key | None:
    """The key a request sent (header or form field), scoped to its user or token holder."""
    if not raw_key:
        return None
    key = raw_key.strip()[:KEY_MAX]
    if problem := unstorable(key):  # a header cannot carry a NUL, but a form field (%00) can
        raise InvalidInput([FieldError("idempotency_key", problem)])
    return Key(scope, key, fingerprint(fields))


async def stored(key: Key) -> Stored | None:
    """The response kept for `key`; KeyReused if the key came with another request."""
    async with read_only() as conn:
        row = await conn.fetchrow(
            "SELECT fingerprint, status_code, response FROM idempotency_key WHERE scope = $1 AND key = $2",
            key.scope, key.key,
        )  # fmt: skip
    if row is None:
        return None
    if row["fingerprint"] != key.fingerprint:
        raise KeyReused(
            "This Idempotency-Key was already used for a different request",
            {"idempotency_key": key.key},
        )
    return Stored(row["status_code"], json.loads(row["response"]))


async def claim(conn: asyncpg.Connection, keys: Sequence[Key]) -> set[tuple[str, str]]:
    """Insert the keys; returns those this transaction now owns. A key another transaction holds
    makes this wait for it to finish, then is reported as not ours (a repeat)."""
    if not keys:
        return set()
    rows = await conn.fetch(
        """INSERT INTO idempotency_key (scope, key, fingerprint)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
           RETURNING scope, key""",
        [k.scope for k in keys], [k.key for k in keys], [k.fingerprint for k in keys],
    )  # fmt: skip
    return {(r["scope"], r["key"]) for r in rows}


async def claim_or_repeat(conn: asyncpg.Connection, key: Key | None) -> None:
    """Under the change's locks, in its transaction: own `key`, or raise `Repeated` when an earlier
    request holds it (after waiting for that request's transaction to end)."""
    if key is not None and not await claim(conn, [key]):
        raise Repeated(key)


async def keep_one(conn: asyncpg.Connection, key: Key | None, status_code: int, body: Any) -> None:
    if key is not None:
        await keep(conn, [(key, status_code, body)])


async def keep(conn: asyncpg.Connection, answers: Sequence[tuple[Key, int, Any]]) -> None:
    """Store each claimed key's response, in the transaction of the change."""
    if not answers:
        return
    await conn.execute(
        """UPDATE idempotency_key i SET status_code = a.status_code, response = a.response::jsonb
           FROM unnest($1::text[], $2::text[], $3::int[], $4::text[]) AS a(scope, key, status_code, response)
           WHERE i.scope = a.scope AND i.key = a.key""",
        [k.scope for k, _, _ in answers], [k.key for k, _, _ in answers],
        [s for _, s, _ in answers], [json.dumps(b) for _, _, b in answers],
    )  # fmt: skip


async def purge() -> None:
    async with read_only() as conn:
        await conn.execute(f"DELETE FROM idempotency_key WHERE created_at < now() - interval '{KEEP_HOURS} hours'")
