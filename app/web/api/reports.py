from __future__ import annotations

from typing import Any

from litestar import Controller, get

from app.services import selfcheck


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get("/anomalies")
    async def anomalies(self) -> dict[str, Any]:
        return {"items": await selfcheck.anomalies()}
