"""Typed settings, read from the environment once."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.display import DEFAULT_LOCALE, Display, parse_currency, parse_locale


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    host: str
    port: int
    timezone: ZoneInfo
    pool_size: int
    pool_timeout: float  # seconds a request waits for a connection before a 503
    max_batch: int
    sweep_seconds: float
    backup_dir: Path | None  # scheduled backups go here; None: no scheduled backups
    backup_every: float  # seconds between scheduled backups
    backup_keep: int  # how many scheduled archives stay in backup_dir
    locale: str = "en_US"  # how pages write numbers, amounts and dates (a Babel/CLDR locale)
    currency: str | None = None  # ISO 4217 code of the shop's money; None: amounts without a sign
    workers: int | None = None  # `serve`'s worker processes; None: one per usable core
    max_connections: int = 4096  # per process: past this many open connections and tasks, a 503 at once
    refold_chunk: int = 1024  # rows a refold reads before its first check for a settled fold (recompute.py)
    header_timeout: float = 10.0  # seconds a connection has to send a request's headers (http_protocol.py)
    body_timeout: float = 30.0  # seconds a request's body may go without a byte (http_protocol.py)
    send_timeout: float = 60.0  # seconds an answer may wait for its client to take any of it (http_protocol.py)

    def display(self) -> Display:
        """The shop's formats: create_app makes them once and hands them to the templates and services."""
        return Display.of(self.locale, self.currency, self.timezone)

    @classmethod
    def from_env(cls) -> Settings:
        """Every variable set to nothing counts as not set: its default."""
        env = os.environ
        return cls(
            database_url=postgresql_url("INVENTORY_DATABASE_URL", env.get("INVENTORY_DATABASE_URL") or None),
            data_dir=Path(env.get("INVENTORY_DATA_DIR") or default_data_dir()).expanduser().resolve(),
            host=env.get("INVENTORY_HOST") or "127.0.0.1",
            port=port_number("INVENTORY_PORT", env.get("INVENTORY_PORT") or "8000"),
            timezone=time_zone("INVENTORY_TIMEZONE", env.get("INVENTORY_TIMEZONE") or "UTC"),
            pool_size=at_least_one("INVENTORY_POOL_SIZE", env.get("INVENTORY_POOL_SIZE") or "10"),
            pool_timeout=duration_seconds("INVENTORY_POOL_TIMEOUT", env.get("INVENTORY_POOL_TIMEOUT") or "10"),
            max_batch=at_least_one("INVENTORY_MAX_BATCH", env.get("INVENTORY_MAX_BATCH") or "500"),
            sweep_seconds=duration_seconds("INVENTORY_SWEEP_SECONDS", env.get("INVENTORY_SWEEP_SECONDS") or "1"),
            backup_dir=optional_dir(env.get("INVENTORY_BACKUP_DIR")),
            backup_every=duration_seconds("INVENTORY_BACKUP_EVERY", env.get("INVENTORY_BACKUP_EVERY") or "1d"),
            backup_keep=at_least_one("INVENTORY_BACKUP_KEEP", env.get("INVENTORY_BACKUP_KEEP") or "7"),
            locale=str(named(parse_locale, env.get("INVENTORY_LOCALE") or DEFAULT_LOCALE)),
            currency=named(parse_currency, env.get("INVENTORY_CURRENCY")),
            workers=at_least_one("INVENTORY_WORKERS", workers) if (workers := env.get("INVENTORY_WORKERS")) else None,
            max_connections=at_least_one("INVENTORY_MAX_CONNECTIONS", env.get("INVENTORY_MAX_CONNECTIONS") or "4096"),
            refold_chunk=at_least_one("INVENTORY_REFOLD_CHUNK", env.get("INVENTORY_REFOLD_CHUNK") or "1024"),
            header_timeout=duration_seconds("INVENTORY_HEADER_TIMEOUT", env.get("INVENTORY_HEADER_TIMEOUT") or "10"),
            body_timeout=duration_seconds("INVENTORY_BODY_TIMEOUT", env.get("INVENTORY_BODY_TIMEOUT") or "30"),
            send_timeout=duration_seconds("INVENTORY_SEND_TIMEOUT", env.get("INVENTORY_SEND_TIMEOUT") or "60"),
        )


def default_data_dir() -> Path:
    """Where the embedded database lives when INVENTORY_DATA_DIR is not set, wherever `inventory` runs from:
    the `.data` folder of the source checkout this package is in (beside pyproject.toml), or, for an
    installed package, the user's data folder (`$XDG_DATA_HOME/stockroom`, `~/.local/share/stockroom`)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".data"
    return Path(os.environ.get("XDG_DATA_HOME") or "~/.local/share").expanduser() / "stockroom"


A = TypeVar("A")
T = TypeVar("T")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingError(ValueError):
    """An environment setting the app cannot use: `inventory` says which and why, and stops."""


def duration_seconds(name: str, raw: str) -> float:
    """Seconds from `90`, `90s`, `15m`, `6h` or `1d`; more than zero."""
    match = _DURATION.match(raw.lower())
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)] if match else 0.0
    if seconds <= 0:
        raise SettingError(f"{name}: {raw!r} is not a duration like 3600, 90s, 15m, 6h or 1d")
    return seconds


def optional_dir(raw: str | None) -> Path | None:
    return Path(raw).expanduser().resolve() if raw else None


def whole_number(raw: str) -> int | None:
    """`raw` as a whole number written in ASCII digits (no sign), else None."""
    text = raw.strip()
    return int(text) if text.isascii() and text.isdigit() else None


def at_least_one(name: str, raw: str) -> int:
    if (value := whole_number(raw)) is None or value < 1:
        raise SettingError(f"{name}: {raw!r} is not a whole number of at least 1")
    return value


def port_number(name: str, raw: str) -> int:
    if (value := whole_number(raw)) is None or not 1 <= value <= 65535:
        raise SettingError(f"{name}: {raw!r} is not a port number from 1 to 65535")
    return value


def time_zone(name: str, raw: str) -> ZoneInfo:
    try:
        return ZoneInfo(raw.strip())
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise SettingError(f"{name}: {raw!r} is not a time zone like UTC, Europe/Berlin or America/New_York") from None


def postgresql_url(name: str, raw: str | None) -> str | None:
    """None (the embedded server), or a postgresql:// URL; whether it can be reached is found on connecting."""
    if raw is None:
        return None
    try:
        scheme = urlsplit(raw.strip()).scheme
    except ValueError:  # e.g. an unclosed [IPv6 address
        scheme = ""
    if scheme not in ("postgresql", "postgres"):
        raise SettingError(f"{name}: {raw!r} is not a PostgreSQL URL like postgresql://user:password@host:5432/db")
    return raw.strip()


def named(parse: Callable[[A], T], raw: A) -> T:
    """A parser whose ValueError already names its setting (app.display's): a SettingError."""
    try:
        return parse(raw)
    except SettingError:
        raise
    except ValueError as bad:
        raise SettingError(str(bad)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
