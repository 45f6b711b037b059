"""`inventory import FILE`: the import, with progress on stderr."""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from app.domain.errors import DomainError, InvalidFile
from app.persistence.database import Database
from app.persistence.migrations import migrate
from app.services import catalogue_csv
from app.services.ledger import LedgerService
from app.services.wiring import ledger_service
from app.settings import Settings

WIDTH = 30


def _checked(rows: int) -> None:
    print(f"\rchecking: {rows:,} rows", end="", file=sys.stderr)


def _progress(step: catalogue_csv.ImportProgress) -> None:
    filled = WIDTH * step.rows_done // step.rows if step.rows else WIDTH
    print(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {step.rows_done:,}/{step.rows:,} rows, "
          f"{step.products_done:,}/{step.products:,} products ({step.sku})", end="", file=sys.stderr)  # fmt: skip
    if step.products_done == step.products:
        print(file=sys.stderr)


def import_file(settings: Settings, path: str) -> int:
    """Check every row first (reading the file as it goes), then import them in parts."""
    db = Database.from_settings(settings, pool_size=2)
    ledger = ledger_service(db, settings)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            result = asyncio.run(_import(handle, ledger))
    except InvalidFile as bad:
        print(file=sys.stderr)
        print(bad.detail, file=sys.stderr)
        for e in bad.errors:
            print(f"line {e.line}: {e.field}: {e.message}", file=sys.stderr)
        return 1
    except (DomainError, catalogue_csv.ImportInterrupted) as refused:
        print(file=sys.stderr)
        print(refused.detail, file=sys.stderr)
        return 1
    print(f"imported {result.imported}, skipped {result.skipped} already imported, "
          f"created {result.products_created} products")  # fmt: skip
    return 0


async def _import(handle: TextIO, ledger: LedgerService) -> catalogue_csv.ImportResult:
    """The rows checked first (no database needed), then the import, on the ledger's database."""
    rows = await catalogue_csv.read_rows(handle, ledger, _checked)
    print(f"\r{rows.transactions:,} rows checked ({len(rows.skus):,} products)", file=sys.stderr)
    await migrate(ledger.db.url)
    async with ledger.db.opened():
        return await catalogue_csv.import_rows(rows, ledger, _progress)
