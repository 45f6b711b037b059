"""Who may do what, sessions and CSRF, first run, login limits, tokens, closed periods, headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PASSWORD, bearer, make_user, start_server
from tests.integration.helpers import make_product, record, summary

pytestmark = pytest.mark.integration
ROLES = ["viewer", "clerk", "manager", "admin"]
YESTERDAY = (datetime.now(UTC) - timedelta(days=1)).isoformat()


def uid() -> str:
    return uuid.uuid4().hex[:10]


# (method, path or path maker, body maker, least role, is a page)
Route = tuple[str, Callable[[dict[str, Any]], str], Callable[[dict[str, Any]], Any], str, bool]
ROUTES: list[Route] = [
    ("GET", lambda f: "/api/products", lambda f: None, "viewer", False),
    ("POST", lambda f: "/api/products", lambda f: {"sku": f"M-{uid()}", "name": "x"}, "manager", False),
    ("GET", lambda f: f"/api/products/{f['sku']}", lambda f: None, "viewer", False),
    ("PATCH", lambda f: f"/api/products/{f['sku']}", lambda f: {"brand": "b"}, "manager", False),
    ("GET", lambda f: f"/api/products/{f['sku']}/transactions", lambda f: None, "viewer", False),
    ("GET", lambda f: f"/api/products/{f['sku']}/monthly", lambda f: None, "viewer", False),
    ("POST", lambda f: "/api/transactions",
     lambda f: {"sku": f["sku"], "type": "SELL", "quantity": 1, "unit_price": "1"}, "clerk", False),
    ("POST", lambda f: "/api/transactions",
     lambda f: {"sku": f["sku"], "type": "SELL", "quantity": 1, "unit_price": "1", "at": YESTERDAY}, "manager", False),
    ("POST", lambda f: "/api/transactions",
     lambda f: {"sku": f["sku"], "type": "ADJUST", "quantity": 1, "reason": "found"}, "manager", False),
    ("PATCH", lambda f: f"/api/transactions/{f['tx']}", lambda f: {"note": uid()}, "manager", False),
    ("DELETE", lambda f: f"/api/transactions/{f['tx']}?dry_run=true", lambda f: None, "manager", False),
    ("POST", lambda f: "/api/reservations",
     lambda f: {"sku": f["sku"], "quantity": 1, "order_ref": uid()}, "clerk", False),
    ("GET", lambda f: "/api/reservations", lambda f: None, "viewer", False),
    ("POST", lambda f: "/api/reservations/999999999/cancel", lambda f: None, "clerk", False),
    ("GET", lambda f: "/api/reports/summary", lambda f: None, "viewer", False),
    ("GET", lambda f: f"/api/transactions.csv?sku={f['sku']}", lambda f: None, "viewer", False),
    ("POST", lambda f: "/api/import", lambda f: "external_id,sku,type,quantity,unit_price,at\n", "manager", False),
    ("GET", lambda f: "/", lambda f: None, "viewer", True),
    ("GET", lambda f: f"/products/{f['sku']}", lambda f: None, "viewer", True),
    ("GET", lambda f: "/products/new", lambda f: None, "manager", True),
    ("GET", lambda f: "/transactions/new", lambda f: None, "clerk", True),
    ("GET", lambda f: f"/transactions/{f['tx']}/edit", lambda f: None, "manager", True),
    ("GET", lambda f: "/reservations", lambda f: None, "viewer", True),
    ("GET", lambda f: "/reports/summary", lambda f: None, "viewer", True),
    ("GET", lambda f: "/import", lambda f: None, "manager", True),
    ("GET", lambda f: "/audit", lambda f: None, "manager", True),
    ("GET", lambda f: "/admin", lambda f: None, "admin", True),
]  # fmt: skip


@pytest.fixture
async def fixture_data(api) -> dict[str, Any]:
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 1000, "1.00", at="2026-01-01T00:00:00+00:00")
    return {"sku": sku, "tx": buy["id"]}


@pytest.mark.parametrize("route", ROUTES, ids=[f"{r[0]} {r[1]({'sku': 'S', 'tx': 1})} ({r[3]})" for r in ROUTES])
async def test_every_route_answers_every_role_as_the_rules_say(server, tokens, fixture_data, route):
    method, path_of, body_of, least, is_page = route
    callers = {role: bearer(tokens[role]) for role in ROLES}
    callers |= {"anonymous": {}, "bad token": bearer("sr_not-a-real-token")}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for who, headers in callers.items():
            body = body_of(fixture_data)
            content = {"content": body.encode()} if isinstance(body, str) else {"json": body} if body else {}
            if is_page:
                headers = {**headers, "accept": "text/html"}
            r = await client.request(method, path_of(fixture_data), headers=headers, **content)
            if who == "anonymous":
                expected = {303} if is_page else {401}
                assert r.status_code in expected, (who, r.status_code, r.text[:200])
            elif who == "bad token":
                assert r.status_code == 401, (who, r.text[:200])
            elif ROLES.index(who) < ROLES.index(least):
                assert r.status_code == 403, (who, r.status_code, r.text[:200])
            else:
                assert r.status_code not in (401, 403), (who, r.status_code, r.text[:200])


async def test_a_clerks_backdated_sell_is_403_and_records_nothing(server, tokens, api):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00", at="2026-01-01T00:00:00+00:00")
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["clerk"])) as clerk:
        r = await clerk.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1, "unit_price": "2",
                                                        "at": YESTERDAY})  # fmt: skip
        assert r.status_code == 403 and "manager" in r.json()["detail"]
        today = await clerk.post("/api/transactions", json={"sku": sku, "type": "SELL", "quantity": 1,
                                                            "unit_price": "2"})  # fmt: skip
        assert today.status_code == 201
    assert (await summary(api, sku))["transaction_count"] == 2


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD, next_: str = "/") -> httpx.Response:
    return await client.post("/login", data={"username": username, "password": password, "next": next_})


async def csrf_of(client: httpx.AsyncClient) -> str:
    page = (await client.get("/transactions/new")).text
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


async def test_a_form_post_without_or_with_another_sessions_csrf_token_is_403(server, api, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    async with httpx.AsyncClient(base_url=server.url) as mine, httpx.AsyncClient(base_url=server.url) as theirs:
        assert (await login(mine, "manager1")).status_code == 303
        assert (await login(theirs, "clerk1")).status_code == 303
        form = {"sku": sku, "type": "SELL", "quantity": "1", "unit_price": "2"}
        without = await mine.post("/transactions/new", data=form)
        other = await mine.post("/transactions/new", data={**form, "csrf_token": await csrf_of(theirs)})
        assert (without.status_code, other.status_code) == (403, 403)
        assert (await summary(api, sku))["transaction_count"] == 1
        good = await mine.post("/transactions/new", data={**form, "csrf_token": await csrf_of(mine)})
        assert good.status_code == 303
        token = await csrf_of(mine)
        htmx = await mine.post("/transactions/new", data=form, headers={"HX-Request": "true", "X-CSRF-Token": token})
        assert htmx.status_code == 200 and "Recorded SELL" in htmx.text
    assert (await summary(api, sku))["transaction_count"] == 3


async def test_login_rotates_the_session_and_returns_to_the_page_asked_for(server):
    async with httpx.AsyncClient(base_url=server.url) as browser:
        asked = await browser.get("/reports", headers={"accept": "text/html"})
        assert asked.status_code == 303 and asked.headers["location"] == "/login?next=/reports"
        first = await login(browser, "viewer1", next_="/reports")
        assert first.status_code == 303 and first.headers["location"] == "/reports"
        cookie = first.cookies["stockroom_session"]
        assert (
            "httponly" in first.headers["set-cookie"].lower() and "samesite=lax" in first.headers["set-cookie"].lower()
        )
        again = await login(browser, "viewer1")
        assert again.cookies["stockroom_session"] != cookie
        browser.cookies.set("stockroom_session", cookie)
        stale = await browser.get("/", headers={"accept": "text/html"})
        assert stale.status_code == 303  # the replaced session no longer works
        assert (await login(browser, "viewer1", next_="https://evil.example/")).headers["location"] == "/"


async def test_login_is_rate_limited_per_account_across_processes(server, second_server):
    name = f"ghost-{uid()}"
    async with httpx.AsyncClient(base_url=server.url) as a, httpx.AsyncClient(base_url=second_server.url) as b:
        for i in range(5):
            r = await login(a if i % 2 else b, name, "wrong password")
            assert r.status_code == 401
        limited = await login(a, name, "wrong password")
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        limited = await login(b, name, "wrong password")
        assert limited.status_code == 429


async def test_the_first_run_page_creates_the_first_admin_once(database_url):
    name = f"first_{uid()}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f"CREATE DATABASE {name}")
    await admin.close()
    fresh = start_server(database_url.replace("/postgres?", f"/{name}?"), INVENTORY_SWEEP_SECONDS="3600")
    try:
        async with httpx.AsyncClient(base_url=fresh.url) as browser:
            assert (await browser.get("/", headers={"accept": "text/html"})).headers["location"] == "/setup"
            short = await browser.post("/setup", data={"username": "boss", "password": "short"})
            assert short.status_code == 400 and "at least 8" in short.text
            made = await browser.post("/setup", data={"username": "boss", "password": PASSWORD})
            assert made.status_code == 303
            home = await browser.get("/")
            assert home.status_code == 200 and "boss (admin)" in home.text
            assert (await browser.get("/setup")).status_code == 404
            again = await browser.get("/setup", headers={"accept": "text/html"})  # a browser: to log in, not JSON
            assert again.status_code == 303 and again.headers["location"] == "/login"
            assert (await browser.post("/setup", data={"username": "eve", "password": PASSWORD})).status_code == 404
    finally:
        fresh.stop()


async def test_tokens_are_made_once_and_stop_working_when_revoked(server, tokens, database_url):
    token = make_user(database_url, f"shop-{uid()}", "clerk")
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/api/products", headers=bearer(token))).status_code == 200
        conn = await asyncpg.connect(database_url)
        stored = await conn.fetch("SELECT token_hash FROM api_token")
        await conn.close()
        assert all(token not in r["token_hash"] for r in stored)  # only a hash is kept
        admin = bearer(tokens["admin"])
        listing = (await client.get("/admin", headers=admin)).text
        token_id = re.findall(r"/admin/tokens/(\d+)/revoke", listing)[0]
        assert (await client.post(f"/admin/tokens/{token_id}/revoke", headers=admin)).status_code == 303
        made = await client.post("/admin/tokens", data={"username": "viewer1", "name": "new"}, headers=admin,
                                 follow_redirects=True)  # post/redirect/get: the page after says it once
        shown = re.search(r'<code id="new-token">([^<]+)</code>', made.text).group(1)
        assert (await client.get("/api/products", headers=bearer(shown))).status_code == 200
        assert "new-token" not in (await client.get("/admin", headers=admin)).text  # shown once


async def test_nothing_dated_in_a_closed_period_can_be_created_edited_or_deleted(server, api, tokens):
    sku = await make_product(api)
    old = await record(api, sku, "BUY", 10, "1.00", at="2026-01-10T09:00:00+00:00")
    admin = bearer(tokens["admin"])
    assert (
        await api.post("/admin/settings", data={"books_closed_through": "2026-01-31"}, headers=admin)
    ).status_code == 303
    try:
        buy = {"sku": sku, "type": "BUY", "quantity": 1, "unit_price": "1"}
        backdated = await api.post("/api/transactions", json={**buy, "at": "2026-01-31T23:00:00+00:00"})
        edit = await api.patch(f"/api/transactions/{old['id']}", json={"note": "late fix"})
        move_in = await api.post("/api/transactions", json={**buy, "at": "2026-02-01T00:00:00+00:00"})
        delete = await api.delete(f"/api/transactions/{old['id']}")
        assert (backdated.status_code, edit.status_code, delete.status_code) == (409, 409, 409)
        assert "closed through Jan 31, 2026" in edit.json()["detail"]  # named as the pages name dates
        assert edit.json()["extra"]["books_closed_through"] == "2026-01-31"
        assert move_in.status_code == 201
        moved_back = await api.patch(f"/api/transactions/{move_in.json()['id']}", json={"at": "2026-01-20T00:00:00Z"})
        assert moved_back.status_code == 409
    finally:
        await api.post("/admin/settings", data={"books_closed_through": ""}, headers=admin)


async def test_security_headers_are_set_and_errors_show_no_stack(api):
    r = await api.get("/")
    assert "unsafe-eval" not in r.headers["content-security-policy"]
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "same-origin"
    assert "server" not in r.headers  # what serves it is nobody's business
    big = await api.post("/api/products", content=b"{" + b" " * 2_000_000 + b"}")
    assert big.status_code == 413


async def test_edits_are_audited_with_who_did_them(server, api, tokens):
    sku = await make_product(api)
    buy = await record(api, sku, "BUY", 3, "1.00")
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(tokens["manager"])) as manager:
        assert (await manager.patch(f"/api/transactions/{buy['id']}", json={"note": "fixed"})).status_code == 200
        page = (await manager.get("/audit")).text
    who = r'<td data-label="Who">manager1</td><td data-label="What">edit</td>\s*'
    assert re.search(rf'{who}<td class="num" data-label="Transaction">{buy["id"]}</td>', page)


async def test_a_reservation_cannot_be_confirmed_into_a_closed_period(api, tokens):
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")
    held = (await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": uid()})).json()
    admin = bearer(tokens["admin"])
    today = datetime.now(UTC).date().isoformat()
    await api.post("/admin/settings", data={"books_closed_through": today}, headers=admin)
    try:
        r = await api.post(f"/api/reservations/{held['id']}/confirm", json={"unit_price": "2"})
        assert r.status_code == 409 and "closed through" in r.json()["detail"]
        assert r.json()["extra"]["books_closed_through"] == today
    finally:
        await api.post("/admin/settings", data={"books_closed_through": ""}, headers=admin)
    assert (await summary(api, sku))["transaction_count"] == 1


async def test_the_books_cannot_be_closed_through_a_day_that_has_not_come(api, tokens):
    """Closed through a later day, every sale until then was refused."""
    admin = bearer(tokens["admin"])
    tomorrow = (datetime.now(UTC) + timedelta(days=1, hours=14)).date().isoformat()  # tomorrow in any zone
    r = await api.post("/admin/settings", data={"books_closed_through": tomorrow}, headers=admin)
    assert r.status_code == 400
    assert "has not come yet" in r.text
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")  # nothing was closed: recorded today (201)
