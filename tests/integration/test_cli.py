"""The `inventory` command on a fresh data directory: embedded database, demo, serve, stop."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, inventory_cli, start_server

pytestmark = pytest.mark.integration


def inventory(data_dir: Path, *args: str, stdin: str = "") -> str:
    return inventory_cli(*args, stdin=stdin, INVENTORY_DATA_DIR=str(data_dir))


def test_embedded_database_demo_serve_and_stop_from_a_fresh_data_dir():
    data_dir = Path(tempfile.mkdtemp(prefix="src-", dir="/tmp"))
    try:
        url = inventory(data_dir, "db", "url")
        assert url.startswith("postgresql://") and str(data_dir) in url
        assert inventory(data_dir, "db", "url") == url  # reused, not started twice
        assert "demo loaded" in inventory(data_dir, "demo")
        assert inventory(data_dir, "demo") == "demo loaded: 0 transactions"  # idempotent

        assert inventory(data_dir, "check") == ""  # nothing found; stderr has the progress and the counts
        inventory(data_dir, "user", "create", "owner", "--role", "viewer", stdin="a long password\n")
        token = inventory(data_dir, "token", "create", "owner")
        assert token.startswith("sr_") and "\n" not in token  # only the token is printed
        server = start_server("", INVENTORY_DATA_DIR=str(data_dir))  # no URL: serve finds the embedded one
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
        try:
            items = client.get("/api/products").json()["items"]
            assert len(items) == 6 and all(p["transaction_count"] > 100 for p in items)
            assert client.get("/api/reports/anomalies").json()["last_full_check"]["anomalies"] == 0  # by `check`
            for report in ("out-of-stock", "overstock", "needs-count", "movers", "by-category", "by-brand"):
                assert client.get(f"/api/reports/{report}").json()["items"], report
            active = client.get("/api/reservations", params={"status": "active"}).json()["items"]
            assert {r["order_ref"] for r in active} == {"web-1001", "web-1002", "shop-77"}
        finally:
            server.stop()

        assert inventory(data_dir, "db", "stop") == "embedded database stopped"
        assert inventory(data_dir, "db", "stop") == "embedded database was not running"
    finally:
        inventory(data_dir, "db", "stop")
        shutil.rmtree(data_dir, ignore_errors=True)


def test_inventory_says_which_setting_is_wrong_and_stops():
    """Before anything starts (issue 12's adversarial trial: INVENTORY_WORKERS=abc was a traceback)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "INVENTORY_WORKERS": "abc"},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == "inventory: INVENTORY_WORKERS: 'abc' is not a whole number of at least 1"
