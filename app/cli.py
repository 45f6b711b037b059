"""The `inventory` console command (SPEC §6)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from app.settings import get_settings


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return int(args.run(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventory", description="Stockroom inventory ledger")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, then serve the app")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("INVENTORY_WORKERS", "1")))
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=_migrate)
    commands.add_parser("demo", help="load example products with a year of history").set_defaults(run=_demo)
    importer = commands.add_parser("import", help="import a transactions CSV (the export's format)")
    importer.add_argument("file")
    importer.set_defaults(run=_import)

    db = commands.add_parser("db", help="the database in use").add_subparsers(required=True, metavar="ACTION")
    db.add_parser("url", help="print the URL of the database in use").set_defaults(run=_db_url)
    db.add_parser("stop", help="stop the embedded database").set_defaults(run=_db_stop)
    return parser


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.services.database import migrate, resolve_url

    settings = get_settings()
    asyncio.run(migrate(resolve_url(settings)))
    uvicorn.run(
        "app.web.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
        log_level="info",
    )


def _migrate(_: argparse.Namespace) -> None:
    from app.services.database import migrate, resolve_url

    print(asyncio.run(migrate(resolve_url(get_settings()))).strip())


def _db_url(_: argparse.Namespace) -> None:
    from app.services.database import resolve_url

    print(resolve_url(get_settings()))


def _db_stop(_: argparse.Namespace) -> int:
    from app.services import embedded

    settings = get_settings()
    if settings.database_url:
        print("INVENTORY_DATABASE_URL is set: that database is not ours to stop", file=sys.stderr)
        return 1
    stopped = embedded.stop(settings.data_dir)
    print("embedded database stopped" if stopped else "embedded database was not running")
    return 0


def _import(args: argparse.Namespace) -> int:
    from app.services.transfer_cli import import_file

    return import_file(get_settings(), args.file)


def _demo(_: argparse.Namespace) -> None:
    from app.services.demo import load_demo

    print(asyncio.run(load_demo(get_settings())))


if __name__ == "__main__":
    raise SystemExit(main())
