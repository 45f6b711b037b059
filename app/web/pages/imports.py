from __future__ import annotations

import csv
import io
import secrets
from collections.abc import AsyncIterator
from html import escape
from typing import Any

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from litestar.types import ASGIApp
from litestar_htmx import HTMXRequest
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from app.display import Display
from app.domain.access import Role
from app.domain.errors import DomainError, InvalidFile, LineError
from app.domain.rules import Reason, TxType
from app.intake.csv_format import CSV_COLUMNS, FIGURE_COLUMNS, REQUIRED_COLUMNS
from app.services import catalogue_csv
from app.services.ledger import LedgerService
from app.services.progress import ProgressHub, Step
from app.web.api.catalogue_csv import IMPORT_MAX_BYTES
from app.web.pages.forms import page, problem
from app.web.pages.places import places_for

ONLY_A_PRODUCT = "empty for a row that only creates a product"
# The smallest file that imports: one purchase of a product the file also creates.
EXAMPLE_CSV = ("external_id,sku,product_name,type,quantity,unit_price,at\r\n"
               "order-1001,TEA-1,Green tea,BUY,40,3.10,2026-11-23 09:00\r\n")  # fmt: skip
ABOUT_COLUMNS = {
    "external_id": "your id of the row, unique in the file: a row whose id was imported before is skipped",
    "sku": "the product (created when the file names it with product_name)",
    "product_name": "needed on a product's first row when the product is new; changes nothing for others",
    "type": f"{', '.join(t.value for t in TxType)}; {ONLY_A_PRODUCT}",
    "quantity": "a whole number (signed for ADJUST; units counted for COUNT)",
    "unit_price": "needed for BUY and SELL; optional for ADJUST that adds stock; empty for COUNT and TRANSFER",
    "at": "when it happened: 2026-11-23 09:00 in the business time zone, or ISO 8601 with an offset",
    "reason": f"ADJUST only: {', '.join(r.value for r in Reason)}",
    "note": "up to 500 characters",
    "location": "a location's code; empty: the product's default location (a TRANSFER's source)",
    "to_location": "TRANSFER only: the location's code it moves the units to",
    "barcode": "EAN-13, UPC-A or EAN-8; used when the row creates a product",
    "sell_price": "the default unit price of a SELL; used when the row creates a product",
}
PRODUCT_ONLY = "used when the row creates a product"


LOCATED_COLUMNS = ("location", "to_location")  # and the type TRANSFER: shown while there are several locations


def column_guide(several_locations: bool = True) -> list[dict[str, Any]]:
    """Every column an import reads (the export's columns less its computed figures); a shop with one
    location is not told of locations (SPEC §2: nothing changes for it; the columns still import)."""
    about = dict(ABOUT_COLUMNS)
    if not several_locations:
        about["type"] = f"{', '.join(t.value for t in TxType if t is not TxType.TRANSFER)}; {ONLY_A_PRODUCT}"
        about["unit_price"] = about["unit_price"].replace("COUNT and TRANSFER", "COUNT")
    shown = [c for c in CSV_COLUMNS if c not in FIGURE_COLUMNS and (several_locations or c not in LOCATED_COLUMNS)]
    return [{"name": c, "required": c in REQUIRED_COLUMNS, "about": about.get(c, PRODUCT_ONLY)} for c in shown]


def bad_rows(errors: list[LineError], text: str) -> list[dict[str, Any]]:
    """Each refused row with the value it holds in the file (rows counted the way the import counts them)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    wanted = {e.line for e in errors}
    cells: dict[int, dict[str | None, Any]] = {}
    for line, raw in enumerate(reader, start=2):
        if line > max(wanted, default=0):
            break
        if line in wanted:
            cells[line] = raw
    shown = []
    for e in errors:
        row = cells.get(e.line, {})
        value = row.get(e.field)
        shown.append({"line": e.line, "field": e.field, "message": e.message, "sku": row.get("sku") or "",
                      "value": None if e.line == 1 else (value or "")})  # fmt: skip
    return shown


def _bar(step: Step, shown: Display) -> str:
    if step.finished:
        return f'<progress max="{step.total}" value="{step.done}"></progress><span>Finished.</span>'
    products = f" ({shown.units(step.products_done)} of {shown.units(step.products)} products)" if step.products else ""
    return (
        f'<progress max="{step.total}" value="{step.done}"></progress>'
        f"<span>{shown.units(step.done)} of {shown.units(step.total)} rows{products} · {escape(step.label)}</span>"
    )


def rows_progress(hub: ProgressHub, token: str) -> catalogue_csv.Progress:
    """The import reports each part it commits; the bar counts the rows done (imported or skipped)."""

    def report(step: catalogue_csv.ImportProgress) -> None:
        hub.report(token, Step(step.rows_done, step.rows, step.sku, products_done=step.products_done,
                               products=step.products))  # fmt: skip

    return report


class ImportPages(Controller):
    path = "/import"
    include_in_schema = False
    opt = {"role": Role.MANAGER}

    @get("/")
    async def form(self, ledger: NamedDependency[LedgerService]) -> Template:
        return await self._page(ledger, "imports/index.html")

    @get("/example.csv")
    async def example(self) -> Response[str]:
        attachment = 'attachment; filename="stockroom-import-example.csv"'
        return Response(EXAMPLE_CSV, media_type="text/csv", headers={"Content-Disposition": attachment})

    @post("/", request_max_body_size=IMPORT_MAX_BYTES)
    async def upload(
        self, request: HTMXRequest, ledger: NamedDependency[LedgerService], progress: NamedDependency[ProgressHub]
    ) -> Template:
        form = await request.form()
        token = str(form.get("token") or "")
        upload = form.get("file")
        template = "imports/_result.html" if request.htmx else "imports/index.html"
        if upload is None or isinstance(upload, str):
            chosen = {"message": "Choose a CSV file to import.", "fields": {}}
            return await self._page(ledger, template, 400, error=chosen)
        text = (await upload.read()).decode("utf-8-sig", errors="replace")
        try:
            rows = await catalogue_csv.read_rows(io.StringIO(text, newline=""), ledger)
            result = await catalogue_csv.import_rows(
                rows, ledger, rows_progress(progress, token), within=request.user.location
            )
        except InvalidFile as bad:
            return await self._page(ledger, template, 200 if request.htmx else 400, bad_rows=bad_rows(bad.errors, text),
                              error=problem(bad))  # fmt: skip
        except DomainError as refused:
            return await self._page(ledger, template, 200 if request.htmx else 409, error=problem(refused))
        finally:
            progress.report(token, Step(1, 1, "finished", finished=True))
        return await self._page(ledger, template, result=result)

    async def _page(self, ledger: LedgerService, template: str, status_code: int = 200, **context: Any) -> Template:
        several = (await places_for(ledger.locations, None)).several
        return page(template, status_code, section="import", token=secrets.token_urlsafe(16),
                    columns=column_guide(several), example=EXAMPLE_CSV.replace("\r\n", "\n"), **context)  # fmt: skip

    @get("/progress/{token:str}")
    async def follow(
        self, token: FromPath[str], progress: NamedDependency[ProgressHub], display: NamedDependency[Display]
    ) -> ASGIApp:
        async def steps() -> AsyncIterator[ServerSentEvent]:
            async for step in progress.follow(token):
                yield ServerSentEvent(data=_bar(step, display), event="progress")
            yield ServerSentEvent(data="", event="finished")  # the page closes its stream on this

        return EventSourceResponse(steps(), ping=15)  # type: ignore[return-value]  # Starlette ASGI types
