"""The admin page in a browser: a token shown once (a reload makes no other), a message after every
form, deactivating a user (their session and tokens stop at once) and setting a password."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import PASSWORD, bearer, make_user
from tests.e2e.conftest import screenshot_path, signed_in

pytestmark = pytest.mark.e2e
NEW_PASSWORD = "a brand new passphrase"


async def admin_tab(browser, server):
    context = await signed_in(browser, server.url, "admin1", viewport={"width": 1200, "height": 900})
    tab = await context.new_page()
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    await tab.goto(f"{server.url}/admin")
    return context, tab


async def logs_in(base: str, username: str, password: str) -> bool:
    async with httpx.AsyncClient(base_url=base) as client:
        r = await client.post("/login", data={"username": username, "password": password, "next": "/"})
    return r.status_code == 303


async def test_a_new_token_is_shown_once_and_a_reload_makes_no_other(server, browser, db):
    context, tab = await admin_tab(browser, server)
    name = f"shop-{uuid.uuid4().hex[:8]}"
    await tab.get_by_label("For user").select_option("viewer1")
    await tab.get_by_label("Name", exact=True).fill(name)
    await tab.get_by_role("button", name="Create token").click()
    await tab.locator("#new-token").wait_for()
    assert tab.url == f"{server.url}/admin"  # redirected: the page shown is a GET
    notice = tab.get_by_role("status").filter(has=tab.locator("#new-token"))
    assert f"New API token “{name}” for viewer1" in await notice.text_content()
    token = await tab.locator("#new-token").text_content()
    async with httpx.AsyncClient(base_url=server.url) as api:
        assert (await api.get("/api/products", headers=bearer(token))).status_code == 200
    await tab.screenshot(path=screenshot_path("admin-token"), full_page=True)

    await tab.reload()
    await tab.get_by_role("heading", name="Administration", exact=True).wait_for()
    assert await tab.locator("#new-token").count() == 0  # shown once
    assert await db.fetchval("SELECT count(*) FROM api_token WHERE name = $1", name) == 1  # and made once
    assert await tab.locator("#tokens tr", has_text=name).count() == 1
    stored = await db.fetch("SELECT message, sealed FROM admin_notice")
    assert all(token not in r["message"] and token.encode() not in bytes(r["sealed"] or b"") for r in stored)
    assert tab.errors == []
    await context.close()


async def test_adding_a_user_says_so_and_a_taken_name_is_refused_beside_the_field(server, browser):
    context, tab = await admin_tab(browser, server)
    name = f"new-{uuid.uuid4().hex[:8]}"
    form = tab.locator("form", has=tab.get_by_role("button", name="Add user"))
    await form.get_by_label("Username").fill(name)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_label("Role").select_option("clerk")
    await form.get_by_role("button", name="Add user").click()
    await tab.get_by_role("status").get_by_text(f"Added user {name} (clerk).").wait_for()
    assert tab.url == f"{server.url}/admin"
    assert await tab.locator(f'#users tr[data-user="{name}"]').count() == 1
    assert await logs_in(server.url, name, PASSWORD)

    await form.get_by_label("Username").fill(name)
    await form.get_by_label("Password").fill(PASSWORD)
    await form.get_by_role("button", name="Add user").click()
    await tab.locator("#new-username-error").wait_for()
    assert await tab.locator("#new-username-error").text_content() == f"User '{name}' already exists"
    assert await form.get_by_label("Username").input_value() == name  # what was typed stays
    await context.close()


async def test_deactivating_a_user_ends_their_session_and_tokens_at_once(server, second_server, browser, database_url):
    name = f"leaver-{uuid.uuid4().hex[:8]}"
    token = make_user(database_url, name, "clerk")
    theirs = await signed_in(browser, server.url, name)
    their_tab = await theirs.new_page()
    await their_tab.goto(f"{server.url}/reservations")
    async with httpx.AsyncClient(timeout=30) as api:
        for base in (server.url, second_server.url):  # each process has the token in its cache now
            assert (await api.get(f"{base}/api/products", headers=bearer(token))).status_code == 200

        context, tab = await admin_tab(browser, server)
        await tab.locator(f'#users tr[data-user="{name}"]').get_by_role("link", name=f"Deactivate {name}").click()
        await tab.get_by_role("heading", name=f"Deactivate {name}?").wait_for()
        await tab.get_by_role("button", name=f"Deactivate {name}").click()
        await tab.get_by_role("status").get_by_text(f"{name} is deactivated").wait_for()
        row = tab.locator(f'#users tr[data-user="{name}"]')
        assert "deactivated" in await row.text_content()
        for base in (server.url, second_server.url):  # at once, on the other process too
            assert (await api.get(f"{base}/api/products", headers=bearer(token))).status_code == 401
    await their_tab.goto(f"{server.url}/reservations")
    assert "/login" in their_tab.url  # their session is gone
    assert not await logs_in(server.url, name, PASSWORD)
    log = tab.locator("#admin-log tbody tr").first
    assert (await log.locator("td").all_inner_texts())[1:4] == ["admin1", "user.disable", name]
    await tab.screenshot(path=screenshot_path("admin"), full_page=True)

    await row.get_by_role("button", name=f"Activate {name}").click()
    await tab.get_by_role("status").get_by_text(f"{name} can log in again").wait_for()
    assert await logs_in(server.url, name, PASSWORD)
    await theirs.close()
    await context.close()


async def test_an_admin_sets_a_password_and_the_old_one_stops_working(server, browser, database_url):
    name = f"forgetful-{uuid.uuid4().hex[:8]}"
    make_user(database_url, name, "viewer")
    theirs = await signed_in(browser, server.url, name)
    context, tab = await admin_tab(browser, server)
    form = tab.locator("form", has=tab.get_by_role("button", name="Set password"))
    await form.get_by_label("User").select_option(name)
    await form.get_by_label("New password").fill("short")
    await form.get_by_label("New password").evaluate("e => e.removeAttribute('minlength')")
    await form.get_by_role("button", name="Set password").click()
    await tab.locator("#set-password-error").wait_for()
    assert await tab.locator("#set-password-error").text_content() == "must be at least 8 characters"
    assert await logs_in(server.url, name, PASSWORD)

    await form.get_by_label("User").select_option(name)
    await form.get_by_label("New password").fill(NEW_PASSWORD)
    await form.get_by_role("button", name="Set password").click()
    await tab.get_by_role("status").get_by_text(f"Password of {name} changed").wait_for()
    assert not await logs_in(server.url, name, PASSWORD)
    assert await logs_in(server.url, name, NEW_PASSWORD)
    their_tab = await theirs.new_page()
    await their_tab.goto(f"{server.url}/")
    assert "/login" in their_tab.url  # the sessions they had ended
    await theirs.close()
    await context.close()
