"""The `inventory` console command (SPEC §6)."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from app.settings import SettingError, Settings, get_settings, whole_number

if TYPE_CHECKING:
    from app.services.accounts import AccountService
    from app.services.demo import CatalogueProgress

T = TypeVar("T")


def usable_cores() -> int:
    """The cores this process may run on: `serve` starts one worker per core by default."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def settled_settings() -> Settings:
    """The process's settings (get_settings: read from the environment once, then shared by the app
    and the pages' formats), with the database URL settled first: the configured one, or the
    embedded server's, started here when it is not running. The URL goes into the environment
    before that one read, for it and for the server's worker processes and a command's children."""
    from app.services import embedded

    if not os.environ.get("INVENTORY_DATABASE_URL"):
        data_dir = Settings.from_env().data_dir  # only where the embedded server lives
        try:
            os.environ["INVENTORY_DATABASE_URL"] = embedded.ensure_running(data_dir)
        except OSError as bad:  # not a folder, not writable, …
            raise SettingError(f"INVENTORY_DATA_DIR: {str(data_dir)!r} cannot hold the database "
                               f"({bad.strerror or bad})") from None  # fmt: skip
    else:
        _reachable(os.environ["INVENTORY_DATABASE_URL"])
    settings = get_settings()
    if settings.database_url != os.environ["INVENTORY_DATABASE_URL"]:
        raise RuntimeError("the settings were read before the database URL was settled")
    return settings


def _reachable(url: str) -> None:
    """A configured database, connected to once before anything starts: a wrong port, user, database
    name or option is said in one line naming the setting, not as a traceback from the first query."""
    import asyncpg

    Settings.from_env()  # a URL that is not a postgresql:// one is named as such first

    async def connect() -> None:
        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()

    try:  # in a thread of its own: some commands settle their settings inside a running event loop
        with ThreadPoolExecutor(max_workers=1) as thread:
            thread.submit(asyncio.run, connect()).result()
    except Exception as bad:  # whatever asyncpg says: the URL, the server, or the login
        reason = str(bad) or type(bad).__name__
        raise SettingError(f"INVENTORY_DATABASE_URL: cannot connect to {_without_password(url)!r} ({reason})") from None


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except SettingError as bad:  # a setting in the environment, named, instead of a traceback
        print(f"inventory: {bad}", file=sys.stderr)
        return 2
    except (ConnectionError, socket.gaierror) as bad:  # the configured database, not reachable
        print(f"inventory: the database of INVENTORY_DATABASE_URL cannot be reached ({bad})", file=sys.stderr)
        return 1


def _count(lowest: int, highest: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number within bounds (0 workers or port 0 is refused, never read as 'unset')."""

    def count(raw: str) -> int:
        value = whole_number(raw)
        if value is None or value < lowest or (highest is not None and value > highest):
            bounds = f"from {lowest} to {highest}" if highest is not None else f"of at least {lowest}"
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number {bounds}")
        return value

    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="inventory", description="Stockroom inventory ledger")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate, then serve the app")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=_count(1, 65535), default=None)
    serve.add_argument("--workers", type=_count(1), default=None, help="default: INVENTORY_WORKERS, else one per core")
    serve.add_argument("--access-log", action="store_true")
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="apply database migrations").set_defaults(run=_migrate)
    demo = commands.add_parser("demo", help="load example products with a year of history")
    demo.add_argument("--products", type=int, default=None, help="a catalogue of this many products instead")
    demo.add_argument("--rows-per-product", type=int, default=100, help="with --products: transactions each")
    demo.set_defaults(run=_demo)
    importer = commands.add_parser("import", help="import a transactions CSV (the export's format)")
    importer.add_argument("file")
    importer.set_defaults(run=_import)

    check = commands.add_parser("check", help="the self-check: every product's figures against a replay of its ledger")
    check.add_argument("--sku", default=None, help="check only this product")
    check.set_defaults(run=_check)

    user = commands.add_parser("user", help="users").add_subparsers(required=True, metavar="ACTION")
    create_user = user.add_parser("create", help="create a user; the password is read from stdin")
    create_user.add_argument("username")
    create_user.add_argument("--role", required=True, choices=["viewer", "clerk", "manager", "admin"])
    create_user.add_argument("--location", default=None, help="limit the user to this location (a store's clerk)")
    create_user.set_defaults(run=_user_create)
    located = user.add_parser("location", help="limit a user to one location, or (without CODE) to none")
    located.add_argument("username")
    located.add_argument("code", nargs="?", default=None)
    located.set_defaults(run=_user_location)
    password = user.add_parser("password", help="set a user's password, read from stdin; their sessions end")
    password.add_argument("username")
    password.set_defaults(run=_user_password)
    disable = user.add_parser("disable", help="deactivate a user: no login, sessions ended, API tokens revoked")
    disable.add_argument("username")
    disable.set_defaults(run=_user_disable)
    enable = user.add_parser("enable", help="let a deactivated user log in again (their old tokens stay revoked)")
    enable.add_argument("username")
    enable.set_defaults(run=_user_enable)
    token = commands.add_parser("token", help="API tokens").add_subparsers(required=True, metavar="ACTION")
    create_token = token.add_parser("create", help="create an API token for a user; prints only the token")
    create_token.add_argument("username")
    create_token.add_argument("--name", default="cli")
    create_token.set_defaults(run=_token_create)

    db = commands.add_parser("db", help="the database in use").add_subparsers(required=True, metavar="ACTION")
    db.add_parser("url", help="print the URL of the database in use").set_defaults(run=_db_url)
    db.add_parser("stop", help="stop the embedded database").set_defaults(run=_db_stop)

    backup = commands.add_parser("backup", help="write a consistent archive (pg_dump -Fc) of the database in use")
    backup.add_argument("file")
    backup.set_defaults(run=_backup)
    restore = commands.add_parser("restore", help="restore an archive into an empty database (stop the app first)")
    restore.add_argument("file")
    restore.add_argument("--force", action="store_true", help="replace a database that already holds data")
    restore.set_defaults(run=_restore)
    return parser


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from app.persistence.migrations import migrate
    from app.web.http_protocol import with_client_deadlines

    settings = settled_settings()
    asyncio.run(migrate(str(settings.database_url)))
    uvicorn.run(  # each worker process makes the app with create_app(), its settings from the environment
        "app.web.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers if args.workers is not None else settings.workers or usable_cores(),
        loop="uvloop",
        # httptools, with deadlines on a request's headers and on each part of its body
        http=with_client_deadlines(settings.header_timeout, settings.body_timeout, settings.send_timeout),
        access_log=args.access_log,
        timeout_graceful_shutdown=5,
        timeout_keep_alive=5,  # an idle keep-alive connection is closed after 5 s
        server_header=False,  # no "server: uvicorn" on every answer: it tells attackers what runs here
        # Past this many open connections and tasks per process, new requests get a 503 at once
        # instead of piling up (open /events streams count: one each).
        limit_concurrency=settings.max_connections,
        log_level="info",
    )


def _migrate(_: argparse.Namespace) -> None:
    from app.persistence.migrations import migrate

    print(asyncio.run(migrate(str(settled_settings().database_url))).strip())


def _user_create(args: argparse.Namespace) -> int:
    from app.domain.access import Role
    from app.domain.errors import DomainError

    password = sys.stdin.readline().rstrip("\n")
    try:
        asyncio.run(
            _with_accounts(
                lambda accounts: accounts.create_user(
                    args.username, password, Role.named(args.role), actor=_shell_actor(), location=args.location
                )
            )  # fmt: skip
        )
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    limited = f", recording only at {args.location}" if args.location else ""
    print(f"user {args.username} created ({args.role}{limited})", file=sys.stderr)
    return 0


def _user_location(args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError

    try:
        changed = asyncio.run(
            _with_accounts(lambda accounts: accounts.set_location(args.username, args.code, actor=_shell_actor()))
        )
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    where = f"records only at {args.code}" if args.code else "records at every location"
    print(f"user {args.username} {where}" + ("" if changed else " (unchanged)"), file=sys.stderr)
    return 0


def _user_password(args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError

    password = sys.stdin.readline().rstrip("\n")
    try:
        asyncio.run(_with_accounts(lambda accounts: accounts.set_password(args.username, password,
                                                                              actor=_shell_actor())))  # fmt: skip
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    print(f"password of {args.username} changed; their sessions ended", file=sys.stderr)
    return 0


def _user_disable(args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError

    try:
        changed = asyncio.run(
            _with_accounts(lambda accounts: accounts.disable_user(args.username, actor=_shell_actor()))
        )
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    print(f"user {args.username} " + ("deactivated: sessions ended, API tokens revoked" if changed
                                      else "was already deactivated"), file=sys.stderr)  # fmt: skip
    return 0


def _user_enable(args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError

    try:
        changed = asyncio.run(
            _with_accounts(lambda accounts: accounts.enable_user(args.username, actor=_shell_actor()))
        )
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    print(f"user {args.username} " + ("can log in again" if changed else "was not deactivated"), file=sys.stderr)
    return 0


def _shell_actor() -> str:
    """Who the admin log names for a change made from the shell."""
    import getpass

    try:
        return f"shell:{getpass.getuser()}"
    except (KeyError, OSError):
        return "shell"


def _token_create(args: argparse.Namespace) -> int:
    from app.domain.errors import DomainError

    try:
        print(asyncio.run(_with_accounts(lambda accounts: accounts.create_token(args.username, args.name))))
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    return 0


async def _with_accounts(work: Callable[[AccountService], Awaitable[T]]) -> T:
    """Run an accounts call from the shell: database migrated, pool open, then closed."""
    from app.persistence.database import Database
    from app.persistence.migrations import migrate
    from app.services.accounts import AccountService

    settings = settled_settings()
    await migrate(str(settings.database_url))
    async with Database.from_settings(settings, pool_size=2).opened() as db:
        return await work(AccountService(db))


def _db_url(_: argparse.Namespace) -> None:
    print(settled_settings().database_url)


def _db_stop(_: argparse.Namespace) -> int:
    from app.services import embedded

    settings = get_settings()
    if settings.database_url:
        print("INVENTORY_DATABASE_URL is set: that database is not ours to stop", file=sys.stderr)
        return 1
    stopped = embedded.stop(settings.data_dir)
    print("embedded database stopped" if stopped else "embedded database was not running")
    return 0


def _backup(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.services import backup

    try:
        info = asyncio.run(backup.take_backup(str(settled_settings().database_url), Path(args.file)))
    except backup.BackupError as failed:
        print(f"backup failed: {failed}", file=sys.stderr)
        return 1
    print(f"{info.file}: {info.bytes} bytes in {info.seconds:.2f} s (as of {info.at.isoformat(timespec='seconds')})")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from pathlib import Path

    from app.services import backup

    try:
        counts = backup.restore(str(settled_settings().database_url), Path(args.file), force=args.force,
                                say=lambda line: print(line, file=sys.stderr))  # fmt: skip
    except backup.RestoreRefused as refused:
        print(f"restore refused: {refused}", file=sys.stderr)
        return 2
    except backup.BackupError as failed:
        print(f"restore failed: {failed}", file=sys.stderr)
        return 1
    print(f"restored {args.file}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
    return 0


def _import(args: argparse.Namespace) -> int:
    from app.services.catalogue_csv_cli import import_file

    return import_file(settled_settings(), args.file)


def _check(args: argparse.Namespace) -> int:
    from app.services.selfcheck_cli import run_check

    return run_check(settled_settings(), args.sku)


def _demo(args: argparse.Namespace) -> None:
    from app.services.demo import load_catalogue, load_demo

    if args.products is None:
        print(asyncio.run(load_demo(settled_settings())))
        return

    def bar(step: CatalogueProgress) -> None:
        filled = 30 * step.products_done // step.products
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {step.products_done:,}/{step.products:,} products, "
              f"{step.rows_done:,} rows, {step.seconds:.0f} s", end="", file=sys.stderr)  # fmt: skip

    outcome = asyncio.run(load_catalogue(settled_settings(), args.products, args.rows_per_product, bar))
    print(file=sys.stderr)
    print(outcome)


if __name__ == "__main__":
    raise SystemExit(main())
