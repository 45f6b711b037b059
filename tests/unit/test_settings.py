"""Settings from the environment: a value the app cannot use is named, with the reason, before anything
starts (issue 12's adversarial trial: INVENTORY_WORKERS=abc was a traceback, 0 and -1 were taken)."""

from __future__ import annotations

import pytest

from app.settings import SettingError, Settings

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("INVENTORY_WORKERS", "abc", "is not a whole number of at least 1"),
        ("INVENTORY_WORKERS", "0", "is not a whole number of at least 1"),
        ("INVENTORY_WORKERS", "-1", "is not a whole number of at least 1"),
        ("INVENTORY_POOL_SIZE", "ten", "is not a whole number of at least 1"),
        ("INVENTORY_MAX_BATCH", "0", "is not a whole number of at least 1"),
        ("INVENTORY_POOL_TIMEOUT", "soon", "is not a duration"),
        ("INVENTORY_BODY_TIMEOUT", "0", "is not a duration"),
        ("INVENTORY_PORT", "70000", "is not a port number from 1 to 65535"),
        ("INVENTORY_PORT", "0", "is not a port number from 1 to 65535"),
        ("INVENTORY_TIMEZONE", "Mars/Base", "is not a time zone"),
        ("INVENTORY_LOCALE", "xx_YY", "is not a locale Babel knows"),
        ("INVENTORY_CURRENCY", "ABCD", "is not an ISO 4217 currency code"),
        ("INVENTORY_DATABASE_URL", "localhost:5432/db", "is not a PostgreSQL URL"),
    ],
)
def test_a_setting_the_app_cannot_use_is_named_with_the_reason(monkeypatch, name, value, reason):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError) as refused:
        Settings.from_env()
    assert str(refused.value).startswith(f"{name}: {value!r} {reason}")


def test_the_defaults_and_usable_values_are_read(monkeypatch):
    monkeypatch.setenv("INVENTORY_WORKERS", "3")
    monkeypatch.setenv("INVENTORY_SWEEP_SECONDS", "0.2")
    settings = Settings.from_env()
    assert (settings.workers, settings.sweep_seconds, settings.pool_size, settings.max_batch) == (3, 0.2, 10, 500)


def test_a_variable_set_to_nothing_is_not_set(monkeypatch):
    for name in ("INVENTORY_PORT", "INVENTORY_TIMEZONE", "INVENTORY_POOL_SIZE", "INVENTORY_SEND_TIMEOUT",
                 "INVENTORY_LOCALE", "INVENTORY_CURRENCY", "INVENTORY_WORKERS"):  # fmt: skip
        monkeypatch.setenv(name, "")
    settings = Settings.from_env()
    assert (settings.port, str(settings.timezone), settings.pool_size, settings.send_timeout) == (8000, "UTC", 10, 60)
    assert (settings.locale, settings.currency, settings.workers) == ("en_US", None, None)
