"""`inventory demo --products N` (issue 13): a catalogue of N products with a year of history each,
built through the CSV import a thousand products at a time, with a progress bar; a re-run adds nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration

PRODUCTS = 5_000  # five batches of 1,000
ROWS = 10


@pytest.fixture(scope="module")
def demo_database() -> Iterator[str]:
    """A database of its own: 5,000 products would change what every other test's reports list."""
    from app.services import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="srd-", dir="/tmp"))
    try:
        yield embedded.ensure_running(data_dir)
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


def inventory(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INVENTORY_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


async def test_demo_builds_a_catalogue_with_progress_and_a_rerun_adds_nothing(demo_database):
    built = inventory(demo_database, "demo", "--products", str(PRODUCTS), "--rows-per-product", str(ROWS))
    assert built.returncode == 0, built.stderr
    assert f"{PRODUCTS:,} products created, {PRODUCTS * ROWS:,} transactions imported" in built.stdout
    assert f"] 1,000/{PRODUCTS:,} products, 10,000 rows" in built.stderr  # the bar, after each batch
    assert f"] {PRODUCTS:,}/{PRODUCTS:,} products, {PRODUCTS * ROWS:,} rows" in built.stderr
    conn = await asyncpg.connect(demo_database)
    try:
        products, rows = await conn.fetchrow("SELECT count(*), sum(tx_count) FROM product WHERE sku LIKE 'DEMO-%'")
        assert (products, rows) == (PRODUCTS, PRODUCTS * ROWS)
        assert await conn.fetchval("SELECT count(*) FROM stock_transaction") == PRODUCTS * ROWS
        kinds = {r["type"] for r in await conn.fetch("SELECT DISTINCT type FROM stock_transaction")}
        assert kinds == {"BUY", "SELL", "ADJUST", "COUNT"}
        assert await conn.fetchval("SELECT count(DISTINCT category) FROM product") == 20
    finally:
        await conn.close()
    again = inventory(demo_database, "demo", "--products", str(PRODUCTS), "--rows-per-product", str(ROWS))
    assert again.returncode == 0 and "0 products created, 0 transactions imported" in again.stdout, again.stderr
    checked = inventory(demo_database, "check")
    assert checked.returncode == 0 and checked.stdout == "", checked.stdout + checked.stderr
    assert f"checked {PRODUCTS:,} products, {PRODUCTS * ROWS:,} rows: 0 with anomalies" in checked.stderr
