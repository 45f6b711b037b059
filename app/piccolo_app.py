"""Piccolo's app: only its migrations (written as SQL, see app.persistence.migrations). No Piccolo
tables: each table's columns are declared once, in its repository in app/persistence/."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="stockroom",
    migrations_folder_path=str(Path(__file__).resolve().parent.parent / "migrations"),
    table_classes=[],
)
