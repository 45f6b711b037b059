"""The anomalies page right after "Run a full check": it says a check is running (and follows it)
or shows the check just run, never the last one silently, whichever worker process answers."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

import httpx

from tests.integration.helpers import make_product, record
from tests.integration.test_security import csrf_of, login

FINISHED = re.compile(r"Last full check: <time datetime=\"([^\"]+)\"")


def shows_the_new_check_or_one_running(page: str, since: datetime) -> bool:
    if "A full check is running" in page:
        return 'hx-trigger="every 2s"' in page  # and the page follows it until it ends
    finished = FINISHED.search(page)
    return finished is not None and datetime.fromisoformat(finished.group(1)) >= since


async def no_check_running(api: httpx.AsyncClient) -> None:
    for _ in range(600):
        if (await api.get("/api/reports/anomalies")).json()["running"] is None:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the full check did not end within a minute")


async def test_the_page_after_starting_a_check_shows_it_running_or_its_outcome(api, server, second_server, db):
    await record(api, await make_product(api), "BUY", 2, "1.00")  # a ledger for the check to read
    old = await api.post("/api/reports/anomalies", params={"wait": "true"})
    assert old.status_code == 200  # a last full check exists, from before
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as here,
        httpx.AsyncClient(base_url=second_server.url, timeout=20) as there,
    ):
        for browser in (here, there):
            await login(browser, "manager1")
        for answering in (here, there):  # the next GET in this process, or in the other one
            since = datetime.now(UTC)
            csrf = await csrf_of(here)
            # The ledgers cannot be read for now: the check is under way, and stays so until this ends.
            async with db.transaction():
                await db.execute("LOCK TABLE stock_transaction IN ACCESS EXCLUSIVE MODE")
                started = await here.post("/reports/anomalies/check", data={"csrf_token": csrf})
                assert started.status_code == 303 and started.headers["location"] == "/reports/anomalies"
                page = (await answering.get("/reports/anomalies")).text
                assert shows_the_new_check_or_one_running(page, since), page
                assert "A full check is running" in page
            await no_check_running(api)
            ended = (await answering.get("/reports/anomalies")).text
            assert "A full check is running" not in ended and shows_the_new_check_or_one_running(ended, since)
