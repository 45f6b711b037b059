"""The first start in a real browser: every page leads to /setup, which makes the first administrator
and signs them in; then a page asked for without a session leads to /login and back to it."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.conftest import PASSWORD, start_server
from tests.e2e.conftest import BrowserProblems, screenshot_path

pytestmark = pytest.mark.e2e


async def test_the_first_run_page_makes_the_first_admin_and_login_returns_to_the_page_asked_for(
    browser, database_url, problems: BrowserProblems
):
    name = f"first_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    fresh = start_server(database_url.replace("/postgres?", f"/{name}?"), INVENTORY_SWEEP_SECONDS="3600")
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        tab = await context.new_page()
        problems.watch(tab)
        await tab.goto(f"{fresh.url}/reports")
        assert tab.url == f"{fresh.url}/setup"
        await tab.get_by_label("Username").fill("boss")
        await tab.get_by_label("Password").fill(PASSWORD)
        await tab.screenshot(path=screenshot_path("first-run-setup"), full_page=True)
        await tab.get_by_role("button", name="Create administrator").click()
        await tab.wait_for_url(f"{fresh.url}/")
        assert "boss (admin)" in await tab.content()

        await context.clear_cookies()  # a new visitor: the first run is over, so it is the login page
        await tab.goto(f"{fresh.url}/reports")
        assert tab.url == f"{fresh.url}/login?next=/reports"
        await tab.get_by_label("Username").fill("boss")
        await tab.get_by_label("Password").fill(PASSWORD)
        await tab.screenshot(path=screenshot_path("first-run-login"), full_page=True)
        await tab.get_by_role("button", name="Log in").click()
        await tab.wait_for_url(f"{fresh.url}/reports")
        problems.check()
    finally:
        await context.close()
        fresh.stop()
