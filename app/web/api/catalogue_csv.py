from __future__ import annotations

import hashlib
import io
import tempfile
from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, Parameter
from litestar.response import Stream

from app.domain.access import Role
from app.domain.errors import FieldError, FieldErrors, InvalidInput
from app.intake import fields
from app.persistence.database import Database
from app.services import catalogue_csv, csv_export
from app.services.idempotency import Key
from app.services.ledger import LedgerService
from app.web.api.schemas import ImportResult
from app.web.api.schemas_openapi import ApiOperation, CsvUpload, answers
from app.web.idempotent import once
from app.web.json_answer import JsonAnswer

IMPORT_MAX_BYTES = 256 * 1024 * 1024
At = Annotated[
    str | None,
    Parameter(description="only rows at this location (its code; a TRANSFER from or to it); 400 if none has it"),
]


def _moment(name: str, raw: str | None, ledger: LedgerService) -> datetime | None:
    """Checked before the stream starts: once the 200 is sent, an error can only cut the file short."""
    if not raw:
        return None
    errors = FieldErrors()
    value = fields.time_filter(errors, name, raw, zone=ledger.zone)
    errors.raise_if_any()
    return value


class CatalogueCsvController(Controller):
    path = "/api"
    tags = ["csv"]
    opt = {"role": Role.VIEWER}

    @get(
        "/transactions.csv",
        operation_id="exportTransactions",
        operation_class=ApiOperation,
        responses=answers(
            {200: (str, "The transactions as CSV, in the columns an import reads")}, media_type="text/csv"
        ),
    )
    async def export(
        self,
        db: NamedDependency[Database],
        ledger: NamedDependency[LedgerService],
        sku: FromQuery[str | None] = None,
        start: FromQuery[str | None] = None,
        end: FromQuery[str | None] = None,
        location: At = None,
    ) -> Stream:
        """All transactions, or one product's, or those with `start <= at < end`, or those at a
        location (`location` or `to_location`). The whole file is written before its first byte is
        sent (a failure is a 503, never a 200 cut short), then sent at the client's pace."""
        since, until = _moment("start", start, ledger), _moment("end", end, ledger)
        if since is not None and until is not None and until < since:  # an empty file would hide the slip
            raise InvalidInput([FieldError("end", f"must not be before start ({start})")])
        if location:  # checked before the stream starts, as the times
            await ledger.locations.check_known([("location", location)])
        spooled = await csv_export.spool_export(db, sku, since, until, location or None)
        return Stream(spooled.pieces(), media_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="transactions.csv"', "Content-Length": str(spooled.size),
        })  # fmt: skip

    @post(
        "/import",
        operation_id="importTransactions",
        request_max_body_size=IMPORT_MAX_BYTES,
        opt={"role": Role.MANAGER},
        operation_class=CsvUpload,
        responses=answers(
            {201: (ImportResult, "Imported: how many rows, skipped rows and new products")},
            409,
            413,
            422,
            role=Role.MANAGER,
        ),
    )
    async def import_csv(self, request: Request, ledger: NamedDependency[LedgerService]) -> JsonAnswer:
        """The body goes to a temporary file as it arrives (a large file is never held in memory
        whole); its digest is the idempotency fingerprint, so a replay is answered before any row
        is read again."""
        with tempfile.TemporaryFile() as spool:
            digest = hashlib.sha256()
            async for chunk in request.stream():
                digest.update(chunk)
                spool.write(chunk)
            spool.seek(0)

            async def run(key: Key | None) -> catalogue_csv.ImportResult:
                text = io.TextIOWrapper(spool, encoding="utf-8-sig", errors="replace", newline="")
                try:
                    rows = await catalogue_csv.read_rows(text, ledger)
                finally:
                    text.detach()
                return await catalogue_csv.import_rows(rows, ledger, key=key, within=request.user.location)

            return await once(request, {"file": digest.hexdigest()}, catalogue_csv.ImportResult, run, alone=True)
