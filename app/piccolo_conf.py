"""Piccolo's engine. The URL is settled (embedded database started) before this is imported, by
`inventory serve` and the CLI; a process that imports it before it has one (the test suite, the
benches: `migrate(url)` sets the URL after) gets an engine that asks the server nothing until then."""

import os

from piccolo.conf.apps import AppRegistry
from piccolo.engine.postgres import PostgresEngine


class _Engine(PostgresEngine):
    """Piccolo's PostgresEngine connects when it is made, to read the server's version and create
    its extensions: without a URL that was a refused connection to 127.0.0.1:5432 and a warning in
    every such process's output."""

    async def check_version(self) -> None:
        if self.config.get("dsn"):
            await super().check_version()

    async def prep_database(self) -> None:
        if self.config.get("dsn"):
            await super().prep_database()


DB = _Engine(config={"dsn": os.environ.get("INVENTORY_DATABASE_URL", "")}, log_queries=False)
APP_REGISTRY = AppRegistry(apps=["app.piccolo_app"])
