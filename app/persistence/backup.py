"""What backups and restores ask the database: its server version, the backup records kept in
`app_setting` (JSON under `backup.*` keys), the schedule's lock, and, before a restore, what the
target database holds and who is connected to it. Each runs on a connection of the caller's own
(a backup or restore works outside the app's pool, possibly before the schema exists)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

BACKUP_LOCK = (0x5342, 1)  # "SB": its own namespace, apart from the product locks' (0x5354, id)
# What the migrations themselves write (their record; the location MAIN): a migrated database that
# holds only that is still empty.
_MIGRATIONS_SEED = {"location": " WHERE code <> 'MAIN'"}
STOCKROOM_TABLES = {"product": "products", "stock_transaction": "transactions", "app_user": "users"}
_OTHER_SESSIONS = """pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                     AND backend_type = 'client backend'"""


async def server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW server_version_num")) // 10000


async def record(conn: asyncpg.Connection, key: str, value: str) -> None:
    """Best effort: a database without Stockroom's tables yet keeps no record."""
    try:
        await conn.execute(
            """INSERT INTO app_setting (key, value) VALUES ($1, $2)
               ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
            key, value,
        )  # fmt: skip
    except asyncpg.UndefinedTableError:
        pass


async def read(conn: asyncpg.Connection, key: str) -> str | None:
    try:
        value: str | None = await conn.fetchval("SELECT value FROM app_setting WHERE key = $1", key)
    except asyncpg.UndefinedTableError:
        return None
    return value


async def try_schedule_lock(conn: asyncpg.Connection) -> bool:
    """The schedule's session lock: one process takes the scheduled backup; the session's end releases it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", *BACKUP_LOCK))


@dataclass(frozen=True)
class Target:
    """What the database to restore into holds now."""

    server_major: int
    database: str
    objects: int  # relations, functions and types in the public schema
    rows: dict[str, int]  # Stockroom's main tables that exist: their row counts ("products": 6, ...)
    nonempty_tables: list[str]
    sessions: list[str]  # other connections to this database
    schema_owner: str
    schema_grants: list[str]  # GRANT statements that recreate the public schema's privileges


async def inspect(conn: asyncpg.Connection) -> Target:
    objects = await conn.fetchval(
        """SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace)
                + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)
                + (SELECT count(*) FROM pg_type WHERE typnamespace = 'public'::regnamespace
                                                  AND typrelid = 0 AND typelem = 0)"""
    )
    tables = [r["name"] for r in await conn.fetch(
        "SELECT quote_ident(relname) AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace "
        "AND relkind IN ('r', 'p') ORDER BY relname")]  # fmt: skip
    nonempty = [t for t in tables if t != "migration" and await _holds_rows(conn, t)]
    rows = await row_counts(conn, [t for t in STOCKROOM_TABLES if t in tables])
    sessions = [f"pid {r['pid']} {r['application_name'] or '(no name)'} from {r['client'] or 'local socket'}"
                for r in await conn.fetch(
                    f"SELECT pid, application_name, client_addr::text AS client FROM {_OTHER_SESSIONS}")]  # fmt: skip
    owner = await conn.fetchval(
        "SELECT quote_ident(pg_get_userbyid(nspowner)) FROM pg_namespace WHERE nspname = 'public'"
    )
    grants = [r["sql"] for r in await conn.fetch(
        """SELECT format('GRANT %s ON SCHEMA public TO %s', a.privilege_type,
                         CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                              ELSE quote_ident(pg_get_userbyid(a.grantee)) END) AS sql
           FROM pg_namespace n, aclexplode(n.nspacl) a
           WHERE n.nspname = 'public' AND a.grantee <> n.nspowner""")]  # fmt: skip
    return Target(await server_major(conn), await conn.fetchval("SELECT current_database()"), int(objects), rows,
                  nonempty, sessions, owner or "CURRENT_USER", grants)  # fmt: skip


async def _holds_rows(conn: asyncpg.Connection, table: str) -> bool:
    """Rows beyond what the migrations write."""
    return bool(await conn.fetchval(f"SELECT EXISTS (SELECT FROM public.{table}{_MIGRATIONS_SEED.get(table, '')})"))


async def row_counts(conn: asyncpg.Connection, tables: list[str]) -> dict[str, int]:
    """Rows in each of Stockroom's main tables named (by STOCKROOM_TABLES's labels: "products": 6, ...)."""
    return {STOCKROOM_TABLES[t]: int(await conn.fetchval(f"SELECT count(*) FROM public.{t}")) for t in tables}


async def create_database(admin: asyncpg.Connection, name: str) -> None:
    await admin.execute(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')


async def terminate_others(conn: asyncpg.Connection) -> int:
    """Disconnect every other session of this database; how many were (0 without the privilege)."""
    try:
        ended = await conn.fetchval(f"SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM {_OTHER_SESSIONS}")
        return int(ended)
    except asyncpg.InsufficientPrivilegeError:
        return 0
