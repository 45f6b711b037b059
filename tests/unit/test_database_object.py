"""The app is handed one Database and starts nothing on its own: making the app or a Database opens
no connection and starts no embedded server; the URL is settled by the CLI beforehand."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.persistence.database import Database, holding_a_connection
from app.services import embedded
from app.settings import Settings

pytestmark = pytest.mark.unit


def _settings(url: str | None) -> Settings:
    return replace(Settings.from_env(), database_url=url)


@pytest.fixture
def no_embedded_server(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> str:
        raise AssertionError("the embedded server was started")

    monkeypatch.setattr(embedded, "ensure_running", refuse)


def test_a_database_without_a_url_is_refused_and_starts_no_server(no_embedded_server: None) -> None:
    with pytest.raises(RuntimeError, match="INVENTORY_DATABASE_URL"):
        Database.from_settings(_settings(None))


def test_create_app_without_a_url_is_refused_and_starts_no_server(no_embedded_server: None) -> None:
    from app.web.app import create_app

    with pytest.raises(RuntimeError, match="inventory serve"):
        create_app(_settings(None))


def test_create_app_opens_nothing_until_its_lifespan(no_embedded_server: None) -> None:
    from app.web.app import create_app

    app = create_app(_settings("postgresql://nobody@127.0.0.1:1/none"))  # nothing listens there
    db = app.state.services.db
    assert isinstance(db, Database) and db.url.endswith(":1/none")
    with pytest.raises(RuntimeError, match="not open"):
        _ = db.pool


def test_the_pool_settings_come_from_the_settings() -> None:
    settings = replace(_settings("postgresql://x/y"), pool_size=7, pool_timeout=2.5)
    db = Database.from_settings(settings)
    assert (db.pool_size, db.acquire_timeout) == (7, 2.5)
    assert Database.from_settings(settings, pool_size=2).pool_size == 2
    assert not holding_a_connection()
