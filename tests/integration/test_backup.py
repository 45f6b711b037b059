"""Backups: one taken during a sales storm restores every acknowledged sale into a fresh data
directory; restore refuses to overwrite data without --force; scheduled backups keep the last N."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.conftest import ROOT, Server, bearer, inventory_cli, start_server
from tests.integration.helpers import anomalies, make_product, record, summary, timeline

pytestmark = pytest.mark.integration

SELLERS = 32  # concurrent clients, half on each process


def run_inventory(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real command, whatever its exit status."""
    outside = {k: v for k, v in os.environ.items() if k != "INVENTORY_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**outside, **env}, timeout=120)  # fmt: skip


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="srk-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fresh_data_dir() -> Iterator[Path]:
    """An empty data directory; its embedded server (if one was started) is stopped afterwards."""
    path = Path(tempfile.mkdtemp(prefix="srr-", dir="/tmp"))
    yield path
    run_inventory("db", "stop", INVENTORY_DATA_DIR=str(path))
    shutil.rmtree(path, ignore_errors=True)


async def test_a_backup_taken_during_a_sales_storm_restores_every_acknowledged_sale(
    api, server, second_server, tokens, database_url, scratch, fresh_data_dir
):
    skus = [await make_product(api) for _ in range(3)]
    for sku in skus:
        await record(api, sku, "BUY", 100_000, "2.00")
    acknowledged: list[tuple[str, int]] = []  # (sku, transaction id), in the order the answers came
    stop, progress = asyncio.Event(), asyncio.Condition()

    async def answered(count: int) -> None:
        async with asyncio.timeout(60), progress:
            await progress.wait_for(lambda: len(acknowledged) >= count or stop.is_set())

    async def seller(client: httpx.AsyncClient, n: int) -> None:
        i = 0
        while not stop.is_set():
            sku, i = skus[(n + i) % len(skus)], i + 1
            body = {"sku": sku, "type": "BUY" if i % 10 == 0 else "SELL", "quantity": 1 + i % 3,
                    "unit_price": "2.50" if i % 10 == 0 else f"{5 + i % 7}.99"}  # fmt: skip
            r = await client.post("/api/transactions", json=body)
            if r.status_code != 201:
                stop.set()  # the storm ends; gather() below reports why
            assert r.status_code == 201, r.text
            acknowledged.append((sku, r.json()["id"]))
            async with progress:
                progress.notify_all()

    clerk = bearer(tokens["clerk"])
    limits = httpx.Limits(max_connections=SELLERS, max_keepalive_connections=SELLERS)
    clients = [httpx.AsyncClient(base_url=s.url, headers=clerk, timeout=60, limits=limits)
               for s in (server, second_server)]  # fmt: skip
    archive = scratch / "storm.dump"
    try:
        sellers = [asyncio.create_task(seller(clients[n % 2], n)) for n in range(SELLERS)]
        await answered(150)
        before = set(acknowledged)  # every sale answered before the backup started
        backup = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "app.cli", "backup", str(archive), cwd=ROOT,
            env={**os.environ, "INVENTORY_DATABASE_URL": database_url},
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await backup.communicate()
        assert backup.returncode == 0, err.decode()
        during = len(acknowledged) - len(before)
        settled = len(acknowledged)
        await answered(settled + 100)  # the storm goes on after the backup too
        stop.set()
        await asyncio.gather(*sellers)
    finally:
        stop.set()
        for client in clients:
            await client.aclose()
    assert during > 0, "no sale was answered while the backup ran: the storm did not overlap it"
    assert re.match(rf"{re.escape(str(archive))}: \d+ bytes in [\d.]+ s", out.decode()), out.decode()

    original = {sku: await timeline(api, sku) for sku in skus}  # oldest first, with running figures
    assert {tid for _, tid in acknowledged} <= {row["id"] for rows in original.values() for row in rows}
    assert await anomalies(api) == []

    restored_out = inventory_cli("restore", str(archive), INVENTORY_DATA_DIR=str(fresh_data_dir))
    assert restored_out.startswith(f"restored {archive}:"), restored_out
    restored = start_server("", INVENTORY_DATA_DIR=str(fresh_data_dir))
    try:
        async with httpx.AsyncClient(base_url=restored.url, headers=bearer(tokens["admin"]), timeout=60) as copy:
            assert await anomalies(copy) == []  # every figure of every row equals a replay of its ledger
            in_archive: set[int] = set()
            for sku in skus:
                rows = await timeline(copy, sku)
                ids = {row["id"] for row in rows}
                assert {tid for s, tid in before if s == sku} <= ids  # nothing acknowledged before is lost
                # "Now" is stamped at commit under the product's lock, so a snapshot holds a prefix of
                # each timeline: the same rows with the same figures, and nothing that never happened.
                assert rows == original[sku][: len(rows)]
                on_hand = sum(row["quantity"] * (1 if row["type"] == "BUY" else -1) for row in rows)
                assert (await summary(copy, sku))["on_hand"] == on_hand
                in_archive |= ids
            # The sales answered after the backup finished are not in it: it is a moment of the storm.
            assert {tid for _, tid in acknowledged} - in_archive
            admin = (await copy.get("/admin")).text
            assert f"restored from <code>{archive}</code>" in admin
    finally:
        restored.stop()

    # Restoring over a database that holds data is refused, here and in the one the app runs on.
    for env in ({"INVENTORY_DATA_DIR": str(fresh_data_dir)}, {"INVENTORY_DATABASE_URL": database_url}):
        refused = run_inventory("restore", str(archive), **env)
        assert refused.returncode == 2, refused.stderr
        assert "already holds Stockroom data" in refused.stderr and "--force" in refused.stderr

    # --force replaces the contents: a product made after the restore is gone again.
    url = inventory_cli("db", "url", INVENTORY_DATA_DIR=str(fresh_data_dir))
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("INSERT INTO product (sku, name) VALUES ('AFTER-RESTORE', 'made after the restore')")
    finally:
        await conn.close()
    replaced = run_inventory("restore", str(archive), "--force", INVENTORY_DATA_DIR=str(fresh_data_dir))
    assert replaced.returncode == 0, replaced.stderr
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM product WHERE sku = 'AFTER-RESTORE'") == 0
        assert await conn.fetchval("SELECT count(*) FROM product WHERE sku = ANY($1)", skus) == len(skus)
    finally:
        await conn.close()


async def test_restore_refuses_a_database_in_use_and_files_that_are_not_archives(database_url, scratch, fresh_data_dir):
    archive = scratch / "now.dump"
    inventory_cli("backup", str(archive), INVENTORY_DATABASE_URL=database_url)
    not_an_archive = scratch / "notes.txt"
    not_an_archive.write_text("hello")
    failed = run_inventory("restore", str(not_an_archive), INVENTORY_DATA_DIR=str(fresh_data_dir))
    assert failed.returncode == 1 and "not a readable pg_dump archive" in failed.stderr, failed.stderr
    missing = run_inventory("restore", str(scratch / "missing.dump"), INVENTORY_DATA_DIR=str(fresh_data_dir))
    assert missing.returncode == 1 and "no such file" in missing.stderr, missing.stderr

    # A migrated database without data is not "Stockroom data", but a connected app is in the way.
    inventory_cli("migrate", INVENTORY_DATA_DIR=str(fresh_data_dir))
    app_like = await asyncpg.connect(inventory_cli("db", "url", INVENTORY_DATA_DIR=str(fresh_data_dir)))
    try:
        in_use = run_inventory("restore", str(archive), INVENTORY_DATA_DIR=str(fresh_data_dir))
        assert in_use.returncode == 2 and "other session(s) are connected" in in_use.stderr, in_use.stderr
        assert await app_like.fetchval("SELECT count(*) FROM product") == 0  # untouched
    finally:
        await app_like.close()
    done = run_inventory("restore", str(archive), INVENTORY_DATA_DIR=str(fresh_data_dir))
    assert done.returncode == 0, done.stderr
    assert re.search(r"restored .*: [1-9]\d* products, [1-9]\d* transactions", done.stdout), done.stdout


async def test_scheduled_backups_are_taken_by_one_process_at_a_time_and_only_the_last_n_kept(
    database_url, tokens, scratch
):
    backups = scratch / "backups"
    (scratch / "backups").mkdir()
    (backups / "keep-me.txt").write_text("not ours")  # never touched by the pruning
    env = {"INVENTORY_BACKUP_DIR": str(backups), "INVENTORY_BACKUP_EVERY": "1s", "INVENTORY_BACKUP_KEEP": "2",
           "INVENTORY_SWEEP_SECONDS": "3600"}  # fmt: skip
    servers: list[Server] = []
    try:
        servers = [start_server(database_url, **env), start_server(database_url, **env)]
        seen: dict[str, datetime] = {}  # each scheduled backup recorded in the database: file -> start
        conn = await asyncpg.connect(database_url)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and len(seen) < 4:
                raw = await conn.fetchval("SELECT value FROM app_setting WHERE key = 'backup.last_scheduled'")
                if raw:
                    last = json.loads(raw)
                    seen[last["file"]] = datetime.fromisoformat(last["at"])
                assert len(list(backups.glob("stockroom-*.dump"))) <= 2  # never more than KEEP
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        assert len(seen) >= 4, [s.log.read_text()[-2000:] for s in servers]
        async with httpx.AsyncClient(base_url=servers[0].url, headers=bearer(tokens["admin"]), timeout=30) as api:
            page = (await api.get("/admin")).text
    finally:
        for s in servers:
            s.stop()

    # One process per round: each scheduled backup started at least EVERY after the one before.
    starts = sorted(seen.values())
    assert all((b - a).total_seconds() >= 1 for a, b in zip(starts, starts[1:], strict=False)), starts
    kept = sorted(p.name for p in backups.iterdir())
    assert len(kept) == 3 and kept[0] == "keep-me.txt", kept
    assert all(re.fullmatch(r"stockroom-\d{8}T\d{6}Z(-\d+)?\.dump", name) for name in kept[1:])
    assert "Scheduled: every 1s into" in page and "keeping the last 2" in page
    assert re.search(r"Last backup: <strong>[\d: -]+</strong> \(scheduled\)", page), page
    newest = backups / kept[-1]
    listing = run_inventory("restore", str(newest), INVENTORY_DATABASE_URL=database_url)
    assert listing.returncode == 2  # a readable Stockroom archive; refused only because the database holds data


async def test_a_backup_directory_that_cannot_be_made_is_a_failure_the_admin_page_shows(scratch):
    from app.services import embedded

    data_dir = scratch / "db"
    url = embedded.ensure_running(data_dir)
    server = None
    try:
        admin = inventory_cli("user", "create", "bk-admin", "--role", "admin", stdin="a long password\n",
                              INVENTORY_DATABASE_URL=url)  # fmt: skip
        assert admin == ""
        token = inventory_cli("token", "create", "bk-admin", INVENTORY_DATABASE_URL=url)
        not_a_dir = scratch / "a-file"
        not_a_dir.write_text("in the way")
        server = start_server(url, INVENTORY_BACKUP_DIR=str(not_a_dir), INVENTORY_BACKUP_EVERY="1s")
        conn = await asyncpg.connect(url)
        try:
            deadline = time.monotonic() + 30
            failure_sql = "SELECT value FROM app_setting WHERE key = 'backup.last_failure'"
            while not (failed := await conn.fetchval(failure_sql)):
                assert time.monotonic() < deadline, server.log.read_text()[-2000:]
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
        assert "a-file" in json.loads(failed)["error"]
        async with httpx.AsyncClient(base_url=server.url, headers=bearer(token), timeout=30) as api:
            page = (await api.get("/admin")).text
        assert "fail" in page.lower()
    finally:
        if server:
            server.stop()
        embedded.stop(data_dir)
