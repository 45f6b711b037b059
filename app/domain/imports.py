"""Rows of a transactions CSV (the export's format), checked one by one before anything is imported."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from app.domain.errors import FieldError, InvalidInput
from app.domain.fields import unstorable
from app.domain.inputs import ProductInput, TransactionInput, parse_product, parse_transaction

PRODUCT_COLUMNS = ("sku", "product_name", "category", "brand", "low_stock_threshold", "overstock_threshold",
                   "count_interval_days", "barcode", "sell_price")  # fmt: skip
TRANSACTION_COLUMNS = ("type", "quantity", "unit_price", "at", "reason", "note")
FIGURE_COLUMNS = ("id", "seq", "stock_after", "average_cost_after", "revenue", "cogs", "realized_pl", "write_off",
                  "gain")  # fmt: skip
CSV_COLUMNS = ("external_id", *PRODUCT_COLUMNS, *TRANSACTION_COLUMNS, *FIGURE_COLUMNS)
REQUIRED_COLUMNS = ("external_id", "sku", "type", "quantity", "unit_price", "at")
TEXT_COLUMNS = ("external_id", "sku", "product_name", "category", "brand", "type", "reason", "note")
EXTERNAL_ID_MAX = 100

# OWASP "CSV injection": a spreadsheet runs a cell starting with = + - @ tab or CR as a formula. Such text
# is written with a leading ' (which the spreadsheet shows as text); leading quotes count, so that text
# which itself starts with ' then = is quoted too and the import can always take exactly one quote off.
# A plain number (a note "-3") is no formula and stays as it is.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def _needs_quote(text: str) -> bool:
    return _FORMULA_START.match(text) is not None and _PLAIN_NUMBER.fullmatch(text) is None


def spreadsheet_safe(text: str) -> str:
    """A text cell as exported: a spreadsheet shows it, never runs it."""
    return "'" + text if _needs_quote(text) else text


def from_spreadsheet(cell: str) -> str:
    """The text an exported cell stands for: spreadsheet_safe() undone."""
    return cell[1:] if cell.startswith("'") and _needs_quote(cell[1:]) else cell


@dataclass(frozen=True, slots=True)
class ImportRow:
    line: int
    sku: str
    product: ProductInput | None  # when the row names the product (`product_name`)
    transaction: TransactionInput | None  # None on a product-only row (empty `type`)
    external_id: str | None


def parse_row(line: int, row: Mapping[str, str | None], *, now: datetime, zone: tzinfo) -> ImportRow:
    """One CSV row; raises InvalidInput naming its bad fields."""
    errors: list[FieldError] = []
    cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
    cell |= {k: from_spreadsheet(cell[k]) for k in TEXT_COLUMNS if k in cell}
    product = _product(cell, errors)
    transaction, external_id = None, None
    if cell.get("type"):
        transaction = _transaction(cell, errors, now, zone)
        external_id = cell.get("external_id") or None
        if external_id is None:
            errors.append(FieldError("external_id", "is required, so that a second import skips the row"))
        elif len(external_id) > EXTERNAL_ID_MAX:
            errors.append(FieldError("external_id", f"must be at most {EXTERNAL_ID_MAX} characters"))
        elif problem := unstorable(external_id):
            errors.append(FieldError("external_id", problem))
    if errors:
        raise InvalidInput(errors)
    return ImportRow(line, cell.get("sku", ""), product, transaction, external_id)


def _product(cell: dict[str, str], errors: list[FieldError]) -> ProductInput | None:
    if not cell.get("product_name"):
        if not cell.get("sku"):
            errors.append(FieldError("sku", "is required"))
        return None
    raw = {"sku": cell.get("sku"), "name": cell["product_name"]}
    raw |= {k: cell[k] for k in PRODUCT_COLUMNS[2:] if cell.get(k)}
    try:
        return parse_product(raw)
    except InvalidInput as bad:
        errors.extend(FieldError("product_name" if e.field == "name" else e.field, e.message) for e in bad.errors)
        return None


def _transaction(
    cell: dict[str, str], errors: list[FieldError], now: datetime, zone: tzinfo
) -> TransactionInput | None:
    if not cell.get("at"):
        errors.append(FieldError("at", "is required in an import"))
        return None
    raw = {k: cell[k] for k in ("sku", *TRANSACTION_COLUMNS) if cell.get(k)}
    try:
        return parse_transaction(raw, now=now, zone=zone)
    except InvalidInput as bad:
        errors.extend(e for e in bad.errors if e.field != "sku" or not any(x.field == "sku" for x in errors))
        return None
