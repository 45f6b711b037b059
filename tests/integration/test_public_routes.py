"""What anyone may fetch without signing in: health, readiness, the favicon."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


def test_health_readiness_and_the_favicon_need_no_credentials(server):
    assert httpx.get(f"{server.url}/healthz", timeout=30).json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz", timeout=30).json() == {"status": "ready"}
    icon = httpx.get(f"{server.url}/favicon.ico", follow_redirects=True, timeout=30)
    assert icon.status_code == 200 and "svg" in icon.headers["content-type"]
