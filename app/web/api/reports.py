from __future__ import annotations

import csv
import io
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get
from litestar.params import Parameter

from app.domain.errors import NotFound
from app.services import reports, selfcheck
from app.services.ledger import LedgerService

REPORTS = ("summary", "low-stock", "out-of-stock", "overstock", "needs-count", "movers", "by-category", "by-brand",
           "anomalies")  # fmt: skip


def as_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    names: list[str] = []
    for item in items:
        names += [k for k in item if k not in names]
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow({k: ("" if v is None else v) for k, v in item.items()})
    return out.getvalue()


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get("/{name:str}")
    async def report(
        self,
        name: str,
        ledger: LedgerService,
        days: Annotated[int, Parameter(ge=1, le=3660)] = 30,
        order: Literal["fast", "slow"] = "fast",
        limit: Annotated[int, Parameter(ge=1, le=5000)] = 20,
        format: Literal["json", "csv"] = "json",
    ) -> Response[Any]:
        body = await self._run(name, ledger, days, order, limit)
        if format == "csv":
            rows = [body] if isinstance(body, dict) and "items" not in body else body["items"]
            flat = [{k: v for k, v in row.items() if not isinstance(v, dict)} for row in rows]
            return Response(as_csv(flat), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
        return Response(body)

    async def _run(self, name: str, ledger: LedgerService, days: int, order: str, limit: int) -> dict[str, Any]:
        now = ledger.clock()
        if name == "summary":
            return await reports.summary()
        if name in ("low-stock", "out-of-stock"):
            return {"items": await reports.by_status("low" if name == "low-stock" else "out")}
        if name == "overstock":
            return {"items": await reports.overstock()}
        if name == "needs-count":
            return {"items": await reports.needs_count(now)}
        if name == "movers":
            return {"items": await reports.movers(now, days, order == "fast", limit)}
        if name in ("by-category", "by-brand"):
            return {"items": await reports.grouped(name.removeprefix("by-"))}
        if name == "anomalies":
            return {"items": await selfcheck.anomalies()}
        raise NotFound(f"No report named {name!r}; reports: {', '.join(REPORTS)}", {"reports": list(REPORTS)})
