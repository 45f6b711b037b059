"""Logging in under attack: the per-account limit holds in a burst across processes, password checks
run off the event loop and without a database connection, and unknown users cost a check too."""

from __future__ import annotations

import asyncio
import json
import os
import random
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PASSWORD, Server, bearer, start_server

pytestmark = pytest.mark.integration
WRONG = "not the password"

# Loaded into a server process through PYTHONPATH: it wraps argon2's verify and writes one JSON line
# per password check — when it ran, on which thread, holding a pooled connection or not, and with
# which Argon2 parameters. The app's own code is not changed for the test.
PROBE = textwrap.dedent("""
    import json, os, sys, threading, time
    import argon2

    _log = os.environ["LOGIN_PROBE_LOG"]
    _lock = threading.Lock()
    _running = [0]
    _verify = argon2.PasswordHasher.verify

    def _holding_a_connection():
        database = sys.modules.get("app.persistence.database")
        if database is not None and getattr(database, "holding_a_connection", lambda: False)():
            return True
        conf = sys.modules.get("app.piccolo_conf")  # a Piccolo transaction (the older unit of work)
        return conf is not None and conf.DB.current_transaction.get() is not None

    def verify(self, hash, password):
        with _lock:
            _running[0] += 1
            concurrent = _running[0]
        record = {"start": time.time(), "main_thread": threading.current_thread() is threading.main_thread(),
                  "holding": _holding_a_connection(), "params": str(hash).rsplit("$", 2)[0],
                  "concurrent": concurrent}
        try:
            return _verify(self, hash, password)
        finally:
            with _lock:
                _running[0] -= 1
            record["end"] = time.time()
            line = (json.dumps(record) + "\\n").encode()
            fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)

    argon2.PasswordHasher.verify = verify
""")


class Probed:
    def __init__(self, server: Server, log: Path) -> None:
        self.server, self.log = server, log

    def clear(self) -> None:
        self.log.write_text("")

    def checks(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]


@pytest.fixture(scope="module")
def probed(database_url: str, tokens: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Probed]:
    where = tmp_path_factory.mktemp("login-probe")
    (where / "sitecustomize.py").write_text(PROBE)
    log = where / "checks.jsonl"
    server = start_server(database_url, PYTHONPATH=str(where), LOGIN_PROBE_LOG=str(log),
                          INVENTORY_SWEEP_SECONDS="3600")  # fmt: skip
    yield Probed(server, log)
    server.stop()


def from_address() -> str:
    """A loopback address of its own per test, so that failures here never count against 127.0.0.1."""
    return f"127.{random.randint(16, 250)}.{random.randint(0, 255)}.{random.randint(2, 250)}"


def client(url: str, address: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=url, transport=transport, timeout=120)


async def make_login_user(url: str, admin_token: str) -> str:
    name = f"login-{uuid.uuid4().hex[:10]}"
    async with httpx.AsyncClient(base_url=url, headers=bearer(admin_token), timeout=60) as admin:
        made = await admin.post("/admin/users", data={"username": name, "password": PASSWORD, "role": "viewer"})
    assert made.status_code == 303, made.text[:300]
    return name


async def login(browser: httpx.AsyncClient, username: str, password: str = WRONG) -> httpx.Response:
    return await browser.post("/login", data={"username": username, "password": password, "next": "/"})


async def test_a_burst_of_wrong_logins_across_two_processes_gets_five_checks_at_most(
    server: Server, second_server: Server, tokens: dict[str, str], db: Any
) -> None:
    name = await make_login_user(server.url, tokens["admin"])
    address = from_address()
    async with client(server.url, address) as a, client(second_server.url, address) as b:
        answers = await asyncio.gather(*(login(a if i % 2 else b, name) for i in range(30)))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [401] * 5 + [429] * 25, Counter(statuses)
    assert all(int(r.headers["retry-after"]) > 0 for r in answers if r.status_code == 429)
    recorded = await db.fetchval("SELECT count(*) FROM login_attempt WHERE username = $1", name)
    assert recorded == 5


async def test_a_correct_password_does_not_count_as_a_failure(server: Server, tokens: dict[str, str]) -> None:
    name = await make_login_user(server.url, tokens["admin"])
    async with client(server.url, from_address()) as browser:
        for _ in range(4):
            assert (await login(browser, name)).status_code == 401
        right = await login(browser, name, PASSWORD)
        assert right.status_code == 303 and "stockroom_session" in right.cookies
        assert (await login(browser, name)).status_code == 401  # the fifth failure
        limited = await login(browser, name, PASSWORD)  # even the right password waits now
        assert limited.status_code == 429 and "Too many failed logins" in limited.text
        assert "try again in 15 minutes" in limited.text  # not "in 896 seconds"


async def test_wrong_passwords_from_one_address_do_not_lock_the_user_out_at_another(
    server: Server, tokens: dict[str, str]
) -> None:
    name = await make_login_user(server.url, tokens["admin"])
    async with client(server.url, from_address()) as guesser, client(server.url, from_address()) as counter:
        for _ in range(5):
            assert (await login(guesser, name)).status_code == 401
        assert (await login(guesser, name, PASSWORD)).status_code == 429  # that address waits, right or wrong
        at_the_counter = await login(counter, name, PASSWORD)
        assert at_the_counter.status_code == 303 and "stockroom_session" in at_the_counter.cookies


async def test_password_checks_run_off_the_event_loop_without_a_connection_while_healthz_answers(
    probed: Probed, tokens: dict[str, str]
) -> None:
    users = [await make_login_user(probed.server.url, tokens["admin"]) for _ in range(3)]
    probed.clear()
    url = probed.server.url
    answered: list[tuple[float, float]] = []  # (sent, received) of every /healthz, on this machine's clock
    async with client(url, from_address()) as browser, httpx.AsyncClient(base_url=url, timeout=60) as health:
        logins = asyncio.gather(*(login(browser, users[i % 3]) for i in range(15)))
        while not logins.done():
            sent = time.time()
            assert (await health.get("/healthz")).status_code == 200
            answered.append((sent, time.time()))
            await asyncio.sleep(0.002)
        statuses = [r.status_code for r in await logins]
    assert statuses == [401] * 15
    checks = probed.checks()
    assert len(checks) == 15
    assert not any(c["main_thread"] for c in checks), "a password check ran on the event loop's thread"
    assert not any(c["holding"] for c in checks), "a password check ran holding a database connection"
    assert max(c["concurrent"] for c in checks) <= (os.cpu_count() or 1)
    # A /healthz sent and answered while a password check was running: the event loop was free
    # during the check. With the check on the loop this cannot happen, however fast the machine.
    during = [(s, r) for s, r in answered for c in checks if c["start"] < s and r < c["end"]]
    assert during, f"no /healthz answered during a password check ({len(answered)} answered)"


async def test_a_wrong_login_checks_a_password_hash_whether_or_not_the_user_exists(
    probed: Probed, tokens: dict[str, str], db: Any
) -> None:
    known = await make_login_user(probed.server.url, tokens["admin"])
    stored = await db.fetchval("SELECT password_hash FROM app_user WHERE username = $1", known)
    async with client(probed.server.url, from_address()) as browser:
        for username in (known, f"nobody-{uuid.uuid4().hex[:10]}", "x" * 300):
            probed.clear()
            refused = await login(browser, username)
            assert refused.status_code == 401, (username, refused.text[:300])
            assert "Wrong username or password" in refused.text
            checks = probed.checks()
            assert len(checks) == 1, (username, checks)
            # the same Argon2 variant and cost as a real user's hash, so it takes as long
            assert checks[0]["params"] == stored.rsplit("$", 2)[0]
