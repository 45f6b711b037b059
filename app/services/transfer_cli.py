"""`inventory import FILE`: the import, with progress on stderr."""

from __future__ import annotations

import asyncio
import sys

from app.domain.errors import DomainError, InvalidFile
from app.domain.imports import ImportRow
from app.services import database, transfer
from app.services.ledger import LedgerService
from app.services.locks import ProductLocks
from app.settings import Settings


def _progress(sku: str, done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} products ({sku})", end="", file=sys.stderr)
    if done == total:
        print(file=sys.stderr)


def import_file(settings: Settings, path: str) -> int:
    """Check every row first (reading the file as it goes), then import them all at once."""
    ledger = LedgerService(ProductLocks(), settings.timezone)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = transfer.read_rows(handle, ledger)
        print(f"{len(rows)} rows checked", file=sys.stderr)
        result = asyncio.run(_import(settings, rows, ledger))
    except InvalidFile as bad:
        print(bad.detail, file=sys.stderr)
        for e in bad.errors:
            print(f"line {e.line}: {e.field}: {e.message}", file=sys.stderr)
        return 1
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 1
    print(f"imported {result.imported}, skipped {result.skipped} already imported, "
          f"created {result.products_created} products")  # fmt: skip
    return 0


async def _import(settings: Settings, rows: list[ImportRow], ledger: LedgerService) -> transfer.ImportResult:
    await database.migrate(database.resolve_url(settings))
    await database.open_pool(2)
    try:
        return await transfer.import_rows(rows, ledger, _progress)
    finally:
        await database.close_pool()
