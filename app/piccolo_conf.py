"""Piccolo's engine. The URL is settled (embedded database started) before this is imported."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine

DB = PostgresEngine(config={"dsn": os.environ.get("INVENTORY_DATABASE_URL", "")}, log_queries=False)
APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
