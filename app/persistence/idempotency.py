"""The idempotency_key table: a request's key, claimed in the transaction of its change, and the
outcome of that change kept with it (an encoding the idempotency service owns, see
app/services/idempotency.py) to answer every repeat the same."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from app.domain.immutable import immutable


@immutable
class KeyRow:
    scope: str
    key: str
    fingerprint: str


@immutable
class Kept:
    """What the table holds for a key: the request's fingerprint and its outcome (None while the
    transaction that claimed it is still running)."""

    fingerprint: str
    outcome: bytes | None


@immutable
class OutcomeRow:
    scope: str
    key: str
    outcome: bytes  # JSON
    transaction_id: int | None  # the ledger row the change recorded, if it recorded one (the counter's proof)


async def kept(conn: asyncpg.Connection, scope: str, key: str) -> Kept | None:
    row = await conn.fetchrow(
        "SELECT fingerprint, outcome::text AS outcome FROM idempotency_key WHERE scope = $1 AND key = $2",
        scope, key,
    )  # fmt: skip
    if row is None:
        return None
    outcome = row["outcome"]
    return Kept(row["fingerprint"], outcome.encode() if outcome is not None else None)


async def claim(conn: asyncpg.Connection, keys: Sequence[KeyRow]) -> set[tuple[str, str]]:
    """Insert the keys; returns (scope, key) of those this transaction now owns. A key another
    transaction holds makes this wait for it to finish, then is not returned."""
    if not keys:
        return set()
    rows = await conn.fetch(
        """INSERT INTO idempotency_key (scope, key, fingerprint)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING
           RETURNING scope, key""",
        [k.scope for k in keys], [k.key for k in keys], [k.fingerprint for k in keys],
    )  # fmt: skip
    return {(r["scope"], r["key"]) for r in rows}


async def keep(conn: asyncpg.Connection, outcomes: Sequence[OutcomeRow]) -> None:
    """Store each claimed key's outcome, in the transaction of the change: one statement for a batch."""
    if not outcomes:
        return
    await conn.execute(
        """UPDATE idempotency_key i SET outcome = o.outcome::json, transaction_id = o.transaction_id
           FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS o(scope, key, outcome, transaction_id)
           WHERE i.scope = o.scope AND i.key = o.key""",
        [o.scope for o in outcomes], [o.key for o in outcomes], [o.outcome.decode() for o in outcomes],
        [o.transaction_id for o in outcomes],
    )  # fmt: skip


async def purge(conn: asyncpg.Connection, older_than_hours: int) -> None:
    await conn.execute(
        "DELETE FROM idempotency_key WHERE created_at < now() - make_interval(hours => $1)", older_than_hours
    )
