"""The `inventory` command on a fresh data directory: embedded database, demo, serve, stop."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

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


@pytest.mark.parametrize(
    ("args", "setting", "said"),
    [
        ((), {"INVENTORY_WORKERS": "abc"}, "inventory: INVENTORY_WORKERS: 'abc' is not a whole number of at least 1"),
        ((), {"INVENTORY_TIMEZONE": "Mars/Base"},
         "inventory: INVENTORY_TIMEZONE: 'Mars/Base' is not a time zone like UTC, Europe/Berlin or America/New_York"),
        ((), {"INVENTORY_DATA_DIR": "/etc/passwd"},
         "inventory: INVENTORY_DATA_DIR: '/etc/passwd' cannot hold the database (File exists)"),
        ((), {"INVENTORY_DATABASE_URL": "postgresql://x:secret@127.0.0.1:1/db"},
         "inventory: INVENTORY_DATABASE_URL: cannot connect to 'postgresql://x:***@127.0.0.1:1/db' ([Errno 111]"),
        ((), {"INVENTORY_DATABASE_URL": "postgresql://x@[::1"}, "INVENTORY_DATABASE_URL: 'postgresql://x@[::1' is not"),
        ((), {"INVENTORY_DATABASE_URL": "postgresql://x@127.0.0.1:99999/db"}, "port must be 0-65535"),
        (("--workers", "0"), {}, "argument --workers: '0' is not a whole number of at least 1"),
        (("--port", "0"), {}, "argument --port: '0' is not a whole number from 1 to 65535"),
    ],
)  # fmt: skip
def test_inventory_says_which_setting_is_wrong_and_stops(args, setting, said):
    """Before anything starts, never a traceback and never a value quietly read as another (issue 12's
    adversarial trials: INVENTORY_WORKERS=abc and a missing time zone were tracebacks, --workers 0 ran
    one worker, --port 0 ran on 8000)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", **setting},
    )  # fmt: skip
    assert done.returncode in (1, 2), done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_a_database_or_user_that_does_not_exist_is_said_in_one_line(database_url):
    """The server is there, the URL names what it does not have: the first connection says so."""
    parts = urlsplit(database_url)
    for url, said in [
        (urlunsplit(parts._replace(path="/no_such_db")), 'database "no_such_db" does not exist'),
        (urlunsplit(parts._replace(netloc=parts.netloc.replace(str(parts.username), "no_such_user", 1))),
         'role "no_such_user" does not exist'),
    ]:  # fmt: skip
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "INVENTORY_DATABASE_URL": url},
        )  # fmt: skip
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
