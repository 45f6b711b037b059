"""External ids on transactions, so importing the same file twice adds nothing twice."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-11-21T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "transaction external ids"

SQL = """
ALTER TABLE stock_transaction ADD COLUMN external_id varchar(100);
CREATE UNIQUE INDEX stock_transaction_external_id_idx ON stock_transaction (external_id)
    WHERE external_id IS NOT NULL;
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="stockroom", description=DESCRIPTION)

    async def run() -> None:
        from app.services.tables import Product

        await Product._meta.db.current_transaction.get().connection.execute(SQL)

    manager.add_raw(run)
    return manager
