"""`inventory serve` uses every core by default: one uvicorn worker per usable core."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from app.cli import usable_cores
from tests.conftest import start_server

pytestmark = pytest.mark.integration


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def test_serve_starts_one_worker_per_core_by_default(database_url, tokens):
    server = start_server(database_url, INVENTORY_WORKERS="")  # unset: the default
    try:
        # uvicorn's workers are processes spawned by multiprocessing (its resource tracker is not one)
        workers = [c for c in _children(server.process.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        expected = usable_cores()
        assert len(workers) == (expected if expected > 1 else 0), (workers, expected, os.cpu_count())
        assert httpx.get(f"{server.url}/readyz", timeout=30).status_code == 200
    finally:
        server.stop()
