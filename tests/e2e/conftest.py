"""A real browser: Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Request, Response, async_playwright

from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not os.path.exists(CHROMIUM):  # noqa: ASYNC240 (once per session)
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (scripts/test does)")
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield launched
        await launched.close()


async def signed_in(browser: Browser, url: str, username: str = "admin1", **options: Any) -> BrowserContext:
    """A browser context logged in through the real login page (the cookie works on every process)."""
    context = await browser.new_context(**options)
    tab = await context.new_page()
    await tab.goto(f"{url}/login")
    await tab.get_by_label("Username").fill(username)
    await tab.get_by_label("Password").fill(PASSWORD)
    await tab.get_by_role("button", name="Log in").click()
    await tab.wait_for_url(f"{url}/")
    await tab.close()
    return context


class BrowserProblems:
    """Everything that went wrong in a browser during a test: console errors (a script's, the CSP's,
    htmx's), uncaught exceptions, failed requests and HTTP errors the test did not say it expects.
    The `page` fixture watches its tab with one and fails the test at the end if anything was seen."""

    FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[tuple[int, str]] = []

    def expect_status(self, status: int, url_part: str = "") -> None:
        """Responses with this status (to a URL containing `url_part`) are part of the test."""
        self.expected.append((status, url_part))

    def _expected(self, status: int, url: str) -> bool:
        return any(status == s and part in url for s, part in self.expected)

    def watch(self, target: Page | BrowserContext) -> None:
        """Watch a tab, or every tab of a browser context (those it opens later too)."""
        if isinstance(target, BrowserContext):
            for tab in target.pages:
                self.watch(tab)
            target.on("page", self.watch)
            return
        target.on("console", self._console)
        target.on("pageerror", lambda error: self.seen.append(f"uncaught error: {error}"))
        target.on("requestfailed", self._failed)
        target.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        http = self.FAILED_LOAD.match(message.text)
        if http and self._expected(int(http.group(1)), url):
            return  # Chromium reports every 4xx it receives; this one the test asked for
        self.seen.append(f"console error: {message.text} ({url})")

    def _failed(self, request: Request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:
            return  # cancelled by the browser: a navigation, or a stream closed when its page went away
        self.seen.append(f"request failed: {request.method} {request.url}: {failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400 and not self._expected(response.status, response.url):
            self.seen.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def check(self) -> None:
        assert not self.seen, "the browser saw problems:\n" + "\n".join(self.seen)


@pytest.fixture
def problems() -> BrowserProblems:
    """What the browsers of this test did wrong; `problems.expect_status(403)` when a test provokes one."""
    return BrowserProblems()


@pytest.fixture
async def page(browser: Browser, server: Any, tokens: Any, problems: BrowserProblems) -> AsyncIterator[Page]:
    """A tab signed in as admin1. The test fails on any console error, uncaught exception, failed
    request or unexpected HTTP error in it (see BrowserProblems)."""
    context = await signed_in(browser, server.url, viewport={"width": 1200, "height": 900})
    tab = await context.new_page()
    problems.watch(tab)
    dialogs: list[str] = []
    tab.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    tab.dialogs = dialogs  # type: ignore[attr-defined]
    tab.problems = problems  # type: ignore[attr-defined]
    yield tab
    try:
        problems.check()
    finally:
        await context.close()


OpenPage = Callable[..., Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser, server: Any, tokens: Any, problems: BrowserProblems) -> AsyncIterator[OpenPage]:
    """`await open_page("clerk1")`: another signed-in tab (own browser context, so own session),
    watched like `page`; `base=` another server's URL."""
    contexts: list[BrowserContext] = []

    async def opened(username: str = "admin1", base: str | None = None, **options: Any) -> Page:
        options.setdefault("viewport", {"width": 1200, "height": 900})
        context = await signed_in(browser, base or server.url, username, **options)
        contexts.append(context)
        tab = await context.new_page()
        problems.watch(tab)
        return tab

    yield opened
    try:
        problems.check()
    finally:
        for context in contexts:
            await context.close()


def screenshot_path(name: str) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


def keep_in_docs(name: str) -> None:
    """Copy the screenshot `name` (taken to `screenshot_path(name)`) over docs/screenshots/<name>.png,
    only when asked (STOCKROOM_UPDATE_SCREENSHOTS=1): a test run leaves the working tree as it was,
    and the committed screenshots do not depend on which tests ran before (they share a database)."""
    if os.environ.get("STOCKROOM_UPDATE_SCREENSHOTS") == "1":
        shutil.copy(screenshot_path(name), ROOT / "docs" / "screenshots" / f"{name}.png")
