"""`inventory check [--sku SKU]`: the self-check from the shell, with progress on stderr.

A full check is kept as the last full check (the anomalies report shows it); exit status 1 when it
found anything, so a scheduled run can alert."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from app.domain.errors import DomainError
from app.persistence.database import Database
from app.persistence.migrations import migrate
from app.services.selfcheck import CheckProgress, SelfCheck
from app.settings import Settings

WIDTH = 30


def _progress(step: CheckProgress) -> None:
    filled = WIDTH * step.products_done // step.products if step.products else WIDTH
    print(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {step.products_done:,}/{step.products:,} products, "
          f"{step.rows_done:,} rows", end="", file=sys.stderr)  # fmt: skip


def run_check(settings: Settings, sku: str | None) -> int:
    try:
        found = asyncio.run(_check(settings, sku))
    except DomainError as refused:
        print(refused.detail, file=sys.stderr)
        return 2
    for item in found:
        print(f"{item['sku']}: " + "; ".join(item["problems"]))
    return 1 if found else 0


async def _check(settings: Settings, sku: str | None) -> list[dict[str, Any]]:
    await migrate(str(settings.database_url))
    async with Database.from_settings(settings, pool_size=2).opened() as db:
        check = SelfCheck(db)
        if sku is not None:
            found = await check.product(sku)
            print(f"{sku}: {'anomalies found' if found else 'no anomalies'}", file=sys.stderr)
            return found
        outcome = await check.full(_progress)
        print(file=sys.stderr)
        print(f"checked {outcome.products:,} products, {outcome.rows:,} rows: {outcome.anomalies:,} with anomalies "
              f"(kept as the last full check, {outcome.finished_at})", file=sys.stderr)  # fmt: skip
        return outcome.items
