"""Typed settings, read from the environment once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo


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

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("INVENTORY_DATABASE_URL") or None,
            data_dir=Path(env.get("INVENTORY_DATA_DIR", "./.data")).expanduser().resolve(),
            host=env.get("INVENTORY_HOST", "127.0.0.1"),
            port=int(env.get("INVENTORY_PORT", "8000")),
            timezone=ZoneInfo(env.get("INVENTORY_TIMEZONE", "UTC")),
            pool_size=int(env.get("INVENTORY_POOL_SIZE", "10")),
            pool_timeout=float(env.get("INVENTORY_POOL_TIMEOUT", "10")),
            max_batch=int(env.get("INVENTORY_MAX_BATCH", "500")),
            sweep_seconds=float(env.get("INVENTORY_SWEEP_SECONDS", "1")),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_env()
