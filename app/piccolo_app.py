from pathlib import Path

from piccolo.conf.apps import AppConfig

from app.services.tables import AuditLog, IdempotencyKey, Product, Reservation, StockTransaction

APP_CONFIG = AppConfig(
    app_name="stockroom",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations"),
    table_classes=[Product, StockTransaction, AuditLog, Reservation, IdempotencyKey],
)
