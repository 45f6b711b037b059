"""Administering users from the shell and over HTTP: `inventory user password|disable|enable`, the
admin forms' post/redirect/get with a one-time notice, the admin log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, ROOT, bearer, inventory_cli, make_user

pytestmark = pytest.mark.integration
NEW_PASSWORD = "another long passphrase"


def cli(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The real `inventory` command, whatever its exit status."""
    outside = {k: v for k, v in os.environ.items() if k != "INVENTORY_DATABASE_URL"}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], cwd=ROOT, input=stdin, capture_output=True, text=True,
        env={**outside, "INVENTORY_DATABASE_URL": database_url}, timeout=120,
    )  # fmt: skip


def uid() -> str:
    return uuid.uuid4().hex[:10]


async def login(base: str, username: str, password: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base) as client:
        return await client.post("/login", data={"username": username, "password": password, "next": "/"})


async def test_user_password_sets_the_password_read_from_stdin_and_ends_their_sessions(server, database_url):
    name = f"pw-{uid()}"
    make_user(database_url, name, "clerk")
    session = (await login(server.url, name, PASSWORD)).cookies
    async with httpx.AsyncClient(base_url=server.url, cookies=session) as browser:
        assert (await browser.get("/reservations")).status_code == 200

        said = inventory_cli("user", "password", name, stdin=NEW_PASSWORD + "\n", INVENTORY_DATABASE_URL=database_url)
        assert said == ""  # nothing on stdout; the confirmation goes to stderr
        assert (await browser.get("/reservations", headers={"accept": "text/html"})).status_code in (303, 401)
    assert (await login(server.url, name, PASSWORD)).status_code == 401
    assert (await login(server.url, name, NEW_PASSWORD)).status_code == 303

    short = cli(database_url, "user", "password", name, stdin="short\n")
    assert short.returncode == 1 and "password: must be at least 8 characters" in short.stderr
    unknown = cli(database_url, "user", "password", f"nobody-{uid()}", stdin=NEW_PASSWORD + "\n")
    assert unknown.returncode == 1 and "No user" in unknown.stderr
    assert (await login(server.url, name, NEW_PASSWORD)).status_code == 303


async def test_user_disable_stops_login_sessions_and_tokens_at_once_on_every_process(
    server, second_server, database_url, db
):
    name = f"gone-{uid()}"
    token = make_user(database_url, name, "clerk")
    session = (await login(server.url, name, PASSWORD)).cookies
    bases = (server.url, second_server.url)
    async with httpx.AsyncClient(cookies=session) as browser:
        assert (await browser.get(f"{second_server.url}/reservations")).status_code == 200
    async with httpx.AsyncClient(timeout=30) as api:
        # Each process keeps this token in its cache, refreshed all along while the command runs: only
        # the processes being told of the change (NOTIFY) can refuse it at once.
        done = asyncio.Event()

        async def keep_using() -> None:
            while not done.is_set():
                for base in bases:
                    await api.get(f"{base}/api/products?q=none", headers=bearer(token))
                await asyncio.sleep(0.05)

        user = asyncio.create_task(keep_using())
        await asyncio.sleep(0.3)
        ran = await asyncio.to_thread(cli, database_url, "user", "disable", name)
        finished = time.monotonic()
        done.set()
        await user
        assert ran.returncode == 0, ran.stderr
        assert "deactivated" in ran.stderr
        answers = [(await api.get(f"{base}/api/products?q=none", headers=bearer(token))).status_code for base in bases]
        assert time.monotonic() - finished < 1.0
        assert answers == [401, 401]  # within the cache's 5 s these would be 200 without the notice
    async with httpx.AsyncClient(cookies=session) as browser:
        for base in bases:
            page = await browser.get(f"{base}/reservations", headers={"accept": "text/html"})
            assert page.status_code in (303, 401)  # the session is gone
    assert (await login(server.url, name, PASSWORD)).status_code == 401
    working = """SELECT count(*) FROM api_token t JOIN app_user u ON u.id = t.user_id
                 WHERE u.username = $1 AND t.revoked_at IS NULL"""
    assert await db.fetchval(working, name) == 0
    logged = await db.fetchrow("SELECT actor, action, detail FROM admin_log WHERE subject = $1 ORDER BY id DESC", name)
    assert (logged["actor"].startswith("shell"), logged["action"]) == (True, "user.disable")

    again = cli(database_url, "user", "disable", name)
    assert again.returncode == 0 and "already deactivated" in again.stderr
    assert cli(database_url, "user", "enable", name).returncode == 0
    assert (await login(server.url, name, PASSWORD)).status_code == 303
    async with httpx.AsyncClient() as api:  # tokens revoked when deactivated stay revoked
        assert (await api.get(f"{server.url}/api/products", headers=bearer(token))).status_code == 401


async def test_the_last_active_administrator_cannot_be_disabled(database_url):
    name = f"lone_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    url = database_url.replace("/postgres?", f"/{name}?")
    make_user(url, "boss", "admin")
    refused = cli(url, "user", "disable", "boss")
    assert refused.returncode == 1 and "last active administrator" in refused.stderr
    make_user(url, "deputy", "admin")
    assert cli(url, "user", "disable", "boss").returncode == 0
    assert cli(url, "user", "disable", "deputy").returncode == 1


async def test_admin_forms_redirect_and_say_once_what_they_did(server, tokens, db):
    admin = bearer(tokens["admin"])
    async with httpx.AsyncClient(base_url=server.url, headers=admin) as client:
        name = f"web-{uid()}"
        made = await client.post("/admin/tokens", data={"username": "viewer1", "name": name})
        assert made.status_code == 303 and made.headers["location"] == "/admin"
        page = (await client.get("/admin")).text
        shown = page.split('<code id="new-token">')[1].split("</code>")[0]
        assert f"New API token “{name}” for viewer1" in page
        assert (await client.get("/api/products", headers=bearer(shown))).status_code == 200
        assert "new-token" not in (await client.get("/admin")).text  # once
        assert await db.fetchval("SELECT count(*) FROM api_token WHERE name = $1", name) == 1
        assert await db.fetchval("SELECT count(*) FROM admin_notice WHERE sealed IS NOT NULL") == 0  # gone once shown

        user = f"new-{uid()}"
        added = await client.post("/admin/users", data={"username": user, "password": PASSWORD, "role": "clerk"})
        assert added.status_code == 303
        assert f"Added user {user} (clerk)." in (await client.get("/admin")).text
        moved = await client.post(f"/admin/users/{user}/role", data={"role": "manager"})
        assert moved.status_code == 303 and f"{user} is now manager" in (await client.get("/admin")).text
        passworded = await client.post("/admin/passwords", data={"username": user, "password": NEW_PASSWORD})
        assert passworded.status_code == 303
        asked = await client.get(f"/admin/users/{user}/disable")
        assert asked.status_code == 200 and f"Deactivate {user}?" in asked.text
        assert (await client.post(f"/admin/users/{user}/disable")).status_code == 303

        refused = await client.post("/admin/users", data={"username": user, "password": PASSWORD, "role": "clerk"})
        assert refused.status_code == 400 and "already exists" in refused.text
        short = await client.post("/admin/passwords", data={"username": user, "password": "x"})
        assert short.status_code == 400 and "must be at least 8 characters" in short.text
    log = await db.fetch("SELECT actor, action FROM admin_log WHERE subject = $1 ORDER BY id", user)
    assert [(r["actor"], r["action"]) for r in log] == [
        ("admin1", "user.create"), ("admin1", "user.role"), ("admin1", "user.password"), ("admin1", "user.disable"),
    ]  # fmt: skip
    assert (await login(server.url, user, NEW_PASSWORD)).status_code == 401  # deactivated


async def test_a_notice_is_for_the_session_that_sent_the_form_only(server, tokens):
    async with httpx.AsyncClient(base_url=server.url) as one, httpx.AsyncClient(base_url=server.url) as other:
        one.cookies = (await login(server.url, "admin1", PASSWORD)).cookies
        other.cookies = (await login(server.url, "admin1", PASSWORD)).cookies
        csrf = (await one.get("/admin")).text.split('name="csrf_token" value="')[1].split('"')[0]
        made = await one.post("/admin/tokens", data={"username": "viewer1", "name": "mine", "csrf_token": csrf})
        assert made.status_code == 303
        assert "new-token" not in (await other.get("/admin")).text
        assert "new-token" in (await one.get("/admin")).text


@pytest.mark.parametrize(
    ("method", "path", "least"),
    [("POST", "/admin/passwords", "admin"), ("GET", "/admin/users/viewer1/disable", "admin"),
     ("POST", "/admin/users/nobody-x/disable", "admin"), ("POST", "/admin/users/nobody-x/enable", "admin"),
     ("POST", "/reservations/", "clerk")],
)  # fmt: skip
async def test_the_new_forms_need_their_role(server, tokens, method, path, least):
    roles = ["viewer", "clerk", "manager", "admin"]
    async with httpx.AsyncClient(base_url=server.url) as client:
        for role in roles:
            answer = await client.request(method, path, data={"username": "nobody-x", "password": "x"},
                                          headers=bearer(tokens[role]))  # fmt: skip
            allowed = roles.index(role) >= roles.index(least)
            assert (answer.status_code != 403) is allowed, (role, answer.status_code)
        assert (await client.request(method, path)).status_code == 401


async def test_a_token_name_too_long_is_refused_not_cut(server, tokens, db):
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["admin"])) as client:
        name = f"long-{uid()}-" + "x" * 100
        refused = await client.post("/admin/tokens", data={"username": "viewer1", "name": name})
        assert refused.status_code == 400 and "at most 100 characters" in refused.text
        assert await db.fetchval("SELECT count(*) FROM api_token WHERE name LIKE $1", name[:40] + "%") == 0
