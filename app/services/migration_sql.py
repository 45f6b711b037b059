"""Migrations written as SQL: every migration module is its ID, description and SQL text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from piccolo.apps.migrations.auto.migration_manager import MigrationManager


def sql_forwards(migration_id: str, description: str, sql: str) -> Callable[[], Awaitable[MigrationManager]]:
    """A Piccolo `forwards()` that runs `sql` inside the migration's own transaction."""

    async def forwards() -> MigrationManager:
        manager = MigrationManager(migration_id=migration_id, app_name="stockroom", description=description)

        async def run() -> None:
            from app.persistence.database import engine

            # Several statements need the simple query protocol: `execute`, on the
            # connection of the transaction the migration manager opened.
            transaction = engine().current_transaction.get()
            assert transaction is not None
            await transaction.connection.execute(sql)

        manager.add_raw(run)
        return manager

    return forwards
