"""Idempotency keys: the first completed response of a mutating POST, replayed for repeats."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-21T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "idempotency keys"

SQL = """
CREATE TABLE idempotency_key (
    scope varchar(100) NOT NULL,
    key varchar(200) NOT NULL,
    fingerprint varchar(64) NOT NULL,
    status_code integer,
    response jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stockroom", description=DESCRIPTION)

    async def run() -> None:
        from app.services.tables import Product

        await Product._meta.db.current_transaction.get().connection.execute(SQL)

    manager.add_raw(run)
    return manager
