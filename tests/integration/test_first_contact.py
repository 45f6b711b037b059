"""`curl /` without a session explains itself: browsers are sent to log in (or, on the first run, to
create the first administrator); API clients get a 401 that says how to authenticate."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import ROOT, Server, start_server

pytestmark = pytest.mark.integration


def test_an_api_client_without_a_token_is_told_how_to_get_one(server):
    for path in ("/", "/api/products", "/reports"):
        r = httpx.get(f"{server.url}{path}")  # curl's Accept: */*
        assert r.status_code == 401, path
        assert r.headers["www-authenticate"].startswith("Bearer")
        body = r.json()
        assert "Authorization: Bearer" in body["detail"] and "inventory token create USERNAME" in body["detail"]
        assert "/login" in body["detail"]
        assert body["extra"]["header"] == "Authorization: Bearer <token>"


def test_a_bad_token_is_named_and_explained(server):
    r = httpx.get(f"{server.url}/api/products", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["detail"].startswith("Invalid API token.")
    assert "inventory token create" in r.json()["detail"]


def test_a_browser_is_sent_to_the_login_page(server):
    r = httpx.get(f"{server.url}/reports", headers={"Accept": "text/html"})
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/reports"


@pytest.fixture(scope="module")
def first_run(database_url: str) -> Iterator[Server]:
    """A server on a database of its own with no user yet."""
    import asyncio

    name = f"first_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        conn = await asyncpg.connect(database_url)
        await conn.execute(f"CREATE DATABASE {name}")
        await conn.close()

    asyncio.run(create())
    s = start_server(database_url.replace("/postgres?", f"/{name}?"))
    yield s
    s.stop()


def test_before_any_user_exists_a_browser_goes_to_setup_and_curl_is_told_about_it(first_run):
    page = httpx.get(f"{first_run.url}/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["location"] == "/setup"
    r = httpx.get(f"{first_run.url}/")
    assert r.status_code == 401
    assert "No user exists yet: open /setup" in r.json()["detail"]
    assert "inventory user create USERNAME --role admin" in r.json()["detail"]
    assert r.json()["extra"]["setup"] == "/setup"


def test_the_inventory_wrapper_works_from_any_folder_with_paths_from_there(first_run, tmp_path):
    """scripts/inventory runs the command from the project's virtualenv; a file named relative to the
    folder it is run in is found there."""
    (tmp_path / "in.csv").write_text("external_id,sku,product_name,type,quantity,unit_price,at\n"
                                     "w1,WRAP-1,Wrapped,BUY,4,2.50,2026-01-01 09:00\n")  # fmt: skip
    env = {**os.environ, "INVENTORY_DATABASE_URL": first_run.database_url}
    done = subprocess.run([str(ROOT / "scripts" / "inventory"), "import", "in.csv"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "imported 1, skipped 0 already imported, created 1 products"
