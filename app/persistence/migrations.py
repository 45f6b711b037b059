"""The schema's migrations (migrations/, each written as SQL) and the one that runs them: Piccolo's
migration runner, its engine pointed at the database being migrated. The app's own queries never
go through Piccolo (see database.Database)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import redirect_stdout
from io import StringIO

import asyncpg
from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.postgres import PostgresEngine

MIGRATION_LOCK = (0x5354, 0)  # (namespace, key) of a session advisory lock


def engine() -> PostgresEngine:
    """Piccolo's engine (app/piccolo_conf.py, found through PICCOLO_CONF)."""
    from app.piccolo_conf import DB

    return DB


async def migrate(url: str) -> str:
    """Apply pending migrations to the database at `url`; concurrent starters wait for each other.
    Returns what the runner said."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    engine().config["dsn"] = url
    lock_conn = await asyncpg.connect(url)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATION_LOCK)
        log = StringIO()
        with redirect_stdout(log):
            result = await run_forwards("all")
        if not result.success:
            raise RuntimeError(f"migration failed: {result.message}\n{log.getvalue()}")
        return log.getvalue()
    finally:
        await lock_conn.close()


def sql_forwards(migration_id: str, description: str, sql: str) -> Callable[[], Awaitable[MigrationManager]]:
    """A migration module's `forwards()`: runs `sql` inside the migration's own transaction."""

    async def forwards() -> MigrationManager:
        manager = MigrationManager(migration_id=migration_id, app_name="stockroom", description=description)

        async def run() -> None:
            # Several statements need the simple query protocol: `execute`, on the
            # connection of the transaction the migration manager opened.
            transaction = engine().current_transaction.get()
            assert transaction is not None
            await transaction.connection.execute(sql)

        manager.add_raw(run)
        return manager

    return forwards
