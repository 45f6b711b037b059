from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get
from litestar.params import Parameter

from app.domain import fields
from app.domain.access import Role
from app.domain.errors import FieldErrors
from app.domain.imports import spreadsheet_safe
from app.services.ledger import LedgerService
from app.services.reports import REPORTS, ReportService
from app.web.api.schemas import Report, Summary
from app.web.api.schemas_openapi import ApiOperation, answers


def as_csv(items: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    names: list[str] = []
    for item in items:
        names += [k for k in item if k not in names]
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _cell(v) for k, v in item.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Names and categories a spreadsheet must not run; figures ("-3.00" too) stay numbers."""
    if value is None:
        return ""
    return spreadsheet_safe(value) if isinstance(value, str) else value


def valuation_moment(raw: str, ledger: LedgerService) -> datetime:
    """`?at=` of the valuation: a date-time, or a date meaning the end of that day."""
    errors = FieldErrors()
    moment = fields.as_of(errors, "at", raw, zone=ledger.zone)
    errors.raise_if_any()
    assert moment is not None
    return moment


Days = Annotated[int, Parameter(ge=1, le=3660, description="movers: the last N days")]
Order = Literal["fast", "slow"]
Limit = Annotated[int, Parameter(ge=1, le=5000, description="movers: how many products")]


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]
    opt = {"role": Role.VIEWER}

    @get(
        "/{name:str}",
        operation_id="getReport",
        operation_class=ApiOperation,
        responses=answers(
            {
                200: (
                    Summary | Report,
                    "The report: an object for `summary`, rows in `items` for the "
                    "others (with ?format=csv: the rows as CSV, text/csv)",
                )
            },
            404,
        ),
    )
    async def report(
        self,
        name: Annotated[str, Parameter(description=f"one of: {', '.join(REPORTS)}")],
        ledger: LedgerService,
        reports: ReportService,
        days: Days = 30,
        order: Order = "fast",
        limit: Limit = 20,
        format: Literal["json", "csv"] = "json",
        at: Annotated[str | None, Parameter(description="valuation: a moment, or a date (its end)")] = None,
    ) -> Response[Any]:
        moment = valuation_moment(at, ledger) if at else None
        body = await reports.build(name, ledger.clock(), days=days, fast=order == "fast", limit=limit, at=moment)
        if format == "csv":
            rows = [body] if isinstance(body, dict) and "items" not in body else body["items"]
            flat = [{k: v for k, v in row.items() if not isinstance(v, dict)} for row in rows]
            return Response(as_csv(flat), media_type="text/csv",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
        return Response(body)
