from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.handlers import HTTPRouteHandler
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from app.domain.access import Role
from app.domain.errors import FieldErrors
from app.intake import fields
from app.intake.csv_format import spreadsheet_safe
from app.services.ledger import LedgerService
from app.services.reports import PER_PAGE, ReportService
from app.web.api.schemas import (
    AnomalyReport,
    BrandReport,
    CategoryReport,
    MinStockSetting,
    MoversReport,
    NeedsCountReport,
    OverstockReport,
    ProductMinStock,
    Replenishment,
    StockReport,
    Summary,
    Valuation,
)
from app.web.api.schemas_openapi import ApiOperation, answers
from app.web.json_body import JsonBody


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """A report's row as one CSV line: a nested object's fields as `<field>_<its field>` columns (the
    figures at a location: `at_location_on_hand`), a list of locations as `CODE=units; …` (spare
    units for a replenishment's sources, else on hand)."""
    cells: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            cells.update({f"{k}_{kk}": vv for kk, vv in v.items() if not isinstance(vv, (dict, list))})
        elif isinstance(v, list):
            cells[k] = "; ".join(f"{x['location']}={x.get('spare', x.get('on_hand'))}" for x in v
                                 if isinstance(x, dict) and "location" in x)  # fmt: skip
        else:
            cells[k] = v
    return cells


def as_csv(items: list[dict[str, Any]], columns: Sequence[str] = ()) -> str:
    """The rows with a header of every key they have, in their order; a report with no rows still
    downloads its header (`columns`, the report's own), not an empty file."""
    out = io.StringIO()
    names: list[str] = []
    for item in items:
        names += [k for k in item if k not in names]
    names = names or list(columns)
    writer = csv.DictWriter(out, fieldnames=names, extrasaction="ignore")
    writer.writeheader()
    for item in items:
        writer.writerow({k: _cell(v) for k, v in item.items()})
    return out.getvalue()


def item_columns(report: type[Any]) -> tuple[str, ...]:
    """The fields of a report's items, as its schema documents them (none for a one-row report)."""
    items = next((f for f in msgspec.structs.fields(report) if f.name == "items"), None)
    kinds = get_args(items.type) if items is not None else ()
    return tuple(f.encode_name for f in msgspec.structs.fields(kinds[0])) if kinds else ()


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
Format = Annotated[Literal["json", "csv"], Parameter(description="csv: the rows as a CSV file (text/csv)")]
At = Annotated[str | None, Parameter(description="valuation: a moment, or a date (its end)")]
PageNo = Annotated[int, Parameter(ge=1, le=1_000_000, description="reports that list products: which page")]
Where = Annotated[str | None, Parameter(description="the figures at this location (its code; 400 if none has it)")]
Per = Annotated[int, Parameter(ge=1, le=5000, description="reports that list products: items a page")]

# Each report's body, so that the schema documents it; every report takes every parameter, as it did
# when one route served them all by name.
DOCUMENTED: dict[str, tuple[type[Any], str]] = {
    "summary": (Summary, "Every product's figures added up, and how many are ok, low and out"),
    "low-stock": (StockReport, "The products low on stock"),
    "out-of-stock": (StockReport, "The products out of stock"),
    "overstock": (OverstockReport, "The products over their overstock threshold"),
    "needs-count": (NeedsCountReport, "The products due a count"),
    "movers": (MoversReport, "The fastest (or slowest) sellers"),
    "by-category": (CategoryReport, "Totals per category"),
    "by-brand": (BrandReport, "Totals per brand"),
    "anomalies": (AnomalyReport, "The self-check: products whose stored figures differ from a replay"),
    "valuation": (Valuation, "Stock and value of every product at a moment"),
    "replenishment": (Replenishment, "Locations below their min_stock for a product, and where stock could come from"),
}


async def answer_report(
    name: str, ledger: LedgerService, reports: ReportService, days: int, order: str, limit: int, format: str,
    at: str | None, page: int = 1, per: int = PER_PAGE, location: str | None = None,
) -> Response[Any]:  # fmt: skip
    moment = valuation_moment(at, ledger) if at else None
    body = await reports.build(name, ledger.clock(), days=days, fast=order == "fast", limit=limit, at=moment,
                               page=page, per=per, location=location)  # fmt: skip
    if format == "csv":
        # The summary is one row (without its counts by status, as before); a listing, its items.
        rows = body["items"] if "items" in body else [{k: v for k, v in body.items() if not isinstance(v, dict)}]
        return Response(as_csv([flat(row) for row in rows], item_columns(DOCUMENTED[name][0])), media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})  # fmt: skip
    return Response(body)


def _route(name: str) -> HTTPRouteHandler:
    """GET /api/reports/<name>: one operation per report, each with its own body in the schema."""
    body, meaning = DOCUMENTED[name]

    async def report(
        self: Controller,
        ledger: NamedDependency[LedgerService],
        reports: NamedDependency[ReportService],
        days: Days = 30,
        order: FromQuery[Order] = "fast",
        limit: Limit = 20,
        format: Format = "json",
        at: At = None,
        page: PageNo = 1,
        per: Per = PER_PAGE,
        location: Where = None,
    ) -> Response[Any]:
        return await answer_report(name, ledger, reports, days, order, limit, format, at, page, per, location)

    camel = "".join(word.title() for word in name.split("-"))
    return get(f"/{name}", operation_id=f"get{camel}Report", summary=f"{camel} report", operation_class=ApiOperation,
               responses=answers({200: (body, f"{meaning} (with ?format=csv: as CSV)")}))(report)  # fmt: skip


def _anomalies(body: dict[str, Any], format: str) -> Response[Any]:
    if format == "csv":
        flat = [{"sku": i["sku"], "problems": "; ".join(i["problems"])} for i in body["items"]]
        return Response(as_csv(flat, ("sku", "problems")), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="anomalies.csv"'})  # fmt: skip
    return Response(body)


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]
    opt = {"role": Role.VIEWER}

    summary = _route("summary")
    low_stock = _route("low-stock")
    out_of_stock = _route("out-of-stock")
    overstock = _route("overstock")
    needs_count = _route("needs-count")
    movers = _route("movers")
    by_category = _route("by-category")
    by_brand = _route("by-brand")

    @get(
        "/anomalies",
        operation_id="getAnomaliesReport",
        summary="Anomalies report",
        operation_class=ApiOperation,
        responses=answers({200: (AnomalyReport, f"{DOCUMENTED['anomalies'][1]} (with ?format=csv: as CSV)")}, 404),
    )
    async def anomalies(
        self,
        reports: NamedDependency[ReportService],
        sku: Annotated[str | None, Parameter(description="check this product now, not the catalogue")] = None,
        format: Format = "json",
        location: Where = None,
    ) -> Response[Any]:
        if location is None:
            return _anomalies(await reports.selfcheck.report(sku), format)
        await reports.check_location(location)
        return _anomalies({**await reports.anomalies_at(location, sku), "location": location}, format)

    @post(
        "/anomalies",
        operation_id="runFullCheck",
        summary="Start a full self-check",
        status_code=202,
        opt={"role": Role.MANAGER},
        operation_class=ApiOperation,
        responses=answers({202: (AnomalyReport, "Started in the background (or already running): the report now"),
                           200: (AnomalyReport, "With ?wait=true: the check ran; its report")}, role=Role.MANAGER),
    )  # fmt: skip
    async def check(
        self,
        reports: NamedDependency[ReportService],
        wait: Annotated[bool, Parameter(description="run it now and answer when done")] = False,
    ) -> Response[Any]:
        """A full check reads every product's ledger (minutes at millions of rows): it runs in the background
        of this process, its progress in `running` of the report, its outcome kept as the last full check."""
        if wait:
            return Response(await reports.selfcheck.run_now(), status_code=200)
        await reports.selfcheck.start()
        return Response(await reports.selfcheck.report(), status_code=202)

    valuation = _route("valuation")
    replenishment = _route("replenishment")

    @get("/{name:str}", include_in_schema=False)
    async def unknown(
        self,
        name: FromPath[str],
        ledger: NamedDependency[LedgerService],
        reports: NamedDependency[ReportService],
        days: Days = 30,
        order: FromQuery[Order] = "fast",
        limit: Limit = 20,
        format: Format = "json",
        at: At = None,
    ) -> Response[Any]:
        """Any other name: 404 listing the reports (the service decides)."""
        return await answer_report(name, ledger, reports, days, order, limit, format, at)


class MinStockController(Controller):
    """A location's min_stock for a product: the replenishment report's hint (SPEC §2 "Stock locations")."""

    path = "/api/products/{sku:str}/locations"
    tags = ["reports"]
    opt = {"role": Role.MANAGER}

    @put(
        "/{code:str}",
        operation_id="setMinStock",
        dto=JsonBody[MinStockSetting],
        return_dto=None,
        operation_class=ApiOperation,
        responses=answers({200: (ProductMinStock, "Set, or cleared (null)")}, 404, 413, role=Role.MANAGER),
    )
    async def set_min_stock(
        self,
        reports: NamedDependency[ReportService],
        sku: FromPath[str],
        code: FromPath[str],
        data: JSONBody[dict[str, Any] | None] = None,
    ) -> dict[str, Any]:
        done = await reports.min_stocks.set(sku, code, data or {})
        return {"sku": done.sku, "location": done.location, "min_stock": done.min_stock, "on_hand": done.on_hand}
