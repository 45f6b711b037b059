"""The products' advisory locks (transaction-level, one namespace), always taken in ascending id order."""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from app.persistence.database import PRODUCT_LOCK_NAMESPACE


async def lock_products(conn: asyncpg.Connection, product_ids: Sequence[int]) -> None:
    """Wait for the locks of several products, in one round trip."""
    if len(product_ids) == 1:
        await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", PRODUCT_LOCK_NAMESPACE, product_ids[0])
        return
    await conn.execute(
        """SELECT count(pg_advisory_xact_lock($1, s.id))
           FROM (SELECT id FROM unnest($2::int[]) AS id ORDER BY id) AS s""",
        PRODUCT_LOCK_NAMESPACE, sorted(product_ids),
    )  # fmt: skip


async def lock_products_within(conn: asyncpg.Connection, product_ids: Sequence[int], milliseconds: int) -> bool:
    """Wait at most `milliseconds` for the products' locks; False if another transaction kept one
    that long (this transaction is then aborted: roll it back). One round trip: the SET LOCALs and
    the locks go as one simple query, which takes no parameters, hence the ids written as integers."""
    ids = ",".join(str(int(i)) for i in sorted(product_ids))
    try:
        await conn.execute(
            f"""SET LOCAL lock_timeout = '{int(milliseconds)}ms';
                SELECT count(pg_advisory_xact_lock({PRODUCT_LOCK_NAMESPACE}, id))
                FROM (SELECT unnest('{{{ids}}}'::int[]) AS id ORDER BY 1) AS s;
                SET LOCAL lock_timeout = 0"""
        )
    except asyncpg.LockNotAvailableError:
        return False
    return True


async def try_lock_products(conn: asyncpg.Connection, product_ids: Sequence[int]) -> list[int]:
    """The locks of those products that nobody else holds, without waiting; returns their ids."""
    rows = await conn.fetch(
        "SELECT id FROM unnest($2::bigint[]) AS id WHERE pg_try_advisory_xact_lock($1, id::int)",
        PRODUCT_LOCK_NAMESPACE, list(product_ids),
    )  # fmt: skip
    return [r["id"] for r in rows]
