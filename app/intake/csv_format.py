"""Rows of a transactions CSV (the export's format), checked one by one before anything is imported."""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import NamedTuple, TypeVar

from app.domain.commands import ProductInput, TransactionInput
from app.domain.errors import FieldError, FieldErrors, InvalidInput, LineError
from app.domain.immutable import immutable
from app.domain.ledger import Entry
from app.domain.rules import LOCATION_CODE_MAX, MAIN, MAX_QUANTITY, NOTE_MAX, SKU_MAX, Reason, TxType
from app.intake import fields
from app.intake.fields import unstorable
from app.intake.requests import SKU_PATTERN, parse_product, parse_transaction

PRODUCT_COLUMNS = ("sku", "product_name", "category", "brand", "low_stock_threshold", "overstock_threshold",
                   "count_interval_days", "barcode", "sell_price", "default_location")  # fmt: skip
# `location` empty: the product's default location; `to_location`: a TRANSFER's destination (SPEC §2).
TRANSACTION_COLUMNS = ("type", "quantity", "unit_price", "at", "reason", "note", "location", "to_location")
FIGURE_COLUMNS = ("id", "seq", "stock_after", "average_cost_after", "revenue", "cogs", "realized_pl", "write_off",
                  "gain", "location_stock_after", "to_location_stock_after")  # fmt: skip
CSV_COLUMNS = ("external_id", *PRODUCT_COLUMNS, *TRANSACTION_COLUMNS, *FIGURE_COLUMNS)
REQUIRED_COLUMNS = ("external_id", "sku", "type", "quantity", "unit_price", "at")
_QUANTITY_DIGITS = len(str(MAX_QUANTITY))  # more is never a quantity, and int() refuses past 4,300
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


@immutable
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


# --- a whole file ---------------------------------------------------------------------------------

_KINDS = {t.value: t for t in TxType}
_REASONS = {r.value: r for r in Reason}
_FAST_COLUMNS = ("external_id", "sku", "product_name", "type", "quantity", "unit_price", "at", "reason", "note",
                 "location", "to_location")  # fmt: skip
_CACHED = 65_536  # distinct prices and times remembered by a RowReader (a file repeats them a lot)
_V = TypeVar("_V")


class FastRow(NamedTuple):
    """A transaction row the fast path accepted: what parse_row would make of it, without the
    two dataclasses (a million rows each build them otherwise)."""

    sku: str
    type: TxType
    quantity: int
    at: datetime
    unit_price: Decimal | None
    reason: Reason | None
    note: str | None
    external_id: str
    location: str | None = None  # None: the product's default location
    to_location: str | None = None  # a TRANSFER's destination


class RowReader:
    """`parse_row` for the rows of one file, given as lists of cells (csv.reader) under its header.

    The common row — a transaction of a product the row does not name, with plain cells — is checked
    here directly, by the same rules in a fraction of the time (a file of 1,000,000 rows spent 14 s in
    parse_row); the fast path only accepts, never refuses: any other row, and every row with an error,
    goes to `parse_row`, so messages come from one place. A unit property test checks that the fast
    path agrees with parse_row on every row it accepts."""

    def __init__(self, header: Sequence[str], *, now: datetime, zone: tzinfo) -> None:
        self.header = list(header)
        self.now, self.zone = now, zone
        where = {name: i for i, name in enumerate(self.header)}  # a name is there once (the import checks)
        self._cells = tuple(where.get(name) for name in _FAST_COLUMNS)
        self._prices: dict[str, Decimal] = {}
        self._times: dict[str, datetime] = {}
        self._skus: set[str] = set()
        self._codes: set[str] = set()  # location codes seen well-formed

    def row(self, line: int, cells: list[str]) -> ImportRow:
        """The row, or InvalidInput naming its bad fields (as parse_row)."""
        return self.fast(line, cells) or self.slow(line, cells)

    def slow(self, line: int, cells: list[str]) -> ImportRow:
        return parse_row(line, self.mapping(cells), now=self.now, zone=self.zone)

    def fast(self, line: int, cells: list[str]) -> ImportRow | None:
        """The row if it takes the common path and is valid, else None (parse_row decides)."""
        r = self.fast_row(cells)
        if r is None:
            return None
        return ImportRow(line, r.sku, None, TransactionInput(r.sku, r.type, r.quantity, r.at, r.unit_price, r.reason,
                                                             r.note, r.location, r.to_location),
                         r.external_id)  # fmt: skip

    def mapping(self, cells: list[str]) -> dict[str, str | None]:
        """The row as csv.DictReader gives it to parse_row: missing cells are None (extra cells, which
        DictReader puts under the key None, parse_row ignores)."""
        row: dict[str, str | None] = dict(zip(self.header, cells, strict=False))
        for name in self.header[len(cells) :]:
            row[name] = None
        return row

    def fast_row(self, cells: list[str]) -> FastRow | None:
        """The transaction of a row that takes the common path and is valid, else None."""
        if len(cells) != len(self.header):
            return None
        c_ext, c_sku, c_name, c_type, c_quantity, c_price, c_at, c_reason, c_note, c_location, c_to = self._cells
        if c_ext is None or c_sku is None or c_type is None or c_quantity is None or c_price is None or c_at is None:
            return None
        if c_name is not None and cells[c_name].strip():
            return None  # a row naming its product: parse_row
        kind = _KINDS.get(cells[c_type].strip())
        if kind is None:
            return None
        sku = cells[c_sku].strip()
        if sku not in self._skus:
            if len(sku) > SKU_MAX or not SKU_PATTERN.fullmatch(sku):
                return None
            self._skus.add(sku)
        external_id = cells[c_ext].strip()
        if not external_id or len(external_id) > EXTERNAL_ID_MAX or external_id[0] == "'":
            return None
        if not external_id.isascii() or "\x00" in external_id:
            return None
        text = cells[c_quantity].strip()
        if not (text.isascii() and text.isdigit()) or len(text) > _QUANTITY_DIGITS:
            return None  # signs, more digits than a quantity has, and anything else, the long way
        quantity = int(text)
        if quantity >= MAX_QUANTITY or (quantity == 0 and kind is not TxType.COUNT):
            return None
        text = cells[c_price].strip()
        if not text:
            if kind is TxType.BUY or kind is TxType.SELL:
                return None
            price = None
        else:
            if kind is TxType.COUNT or kind is TxType.TRANSFER:
                return None
            price = self._prices.get(text)
            if price is None:
                price = self._remember(self._prices, text, fields.price(errors := FieldErrors(), "unit_price", text))
                if errors.errors:
                    return None
        text = cells[c_at].strip()
        at = self._times.get(text)
        if at is None:
            if not text:
                return None
            errors = FieldErrors()
            at = fields.moment(errors, "at", text, now=self.now, zone=self.zone)
            if errors.errors or at is None:
                return None
            self._remember(self._times, text, at)
        text = cells[c_reason].strip() if c_reason is not None else ""
        reason = None
        if kind is TxType.ADJUST:
            reason = _REASONS.get(text.lower())
            if reason is None:
                return None
        elif text:
            return None
        text = cells[c_note].strip() if c_note is not None else ""
        note = None
        if text:
            note = fields.text(errors := FieldErrors(), "note", from_spreadsheet(text), max_len=NOTE_MAX)
            if errors.errors:
                return None
        location = self._code(cells[c_location].strip()) if c_location is not None else None
        if location == "":
            return None
        to_location = self._code(cells[c_to].strip()) if c_to is not None else None
        if kind is TxType.TRANSFER:
            if not to_location or to_location == location:
                return None
        elif to_location is not None:
            return None
        return FastRow(sku, kind, quantity, at, price, reason, note, external_id, location, to_location)

    def _code(self, text: str) -> str | None:
        """A location cell: None when empty, the code when well-formed, "" (the long way) otherwise."""
        if not text:
            return None
        if text not in self._codes:
            if len(text) > LOCATION_CODE_MAX or not SKU_PATTERN.fullmatch(text):
                return ""
            self._codes.add(text)
        return text

    @staticmethod
    def _remember(cache: dict[str, _V], text: str, value: _V | None) -> _V | None:
        if value is not None:
            if len(cache) >= _CACHED:
                cache.clear()
            cache[text] = value
        return value


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KIND_CODES = list(TxType)
_KIND_INDEX = {t: i for i, t in enumerate(_KIND_CODES)}
_REASON_CODES: list[Reason | None] = [None, *Reason]
_REASON_INDEX = {r: i for i, r in enumerate(_REASON_CODES)}


@immutable
class FileRow:
    """One transaction row of a checked file, as the import places it."""

    line: int
    at: datetime
    type: TxType
    quantity: int
    unit_price: Decimal | None
    reason: Reason | None
    note: str | None
    external_id: str
    location: str | None  # None: the product's default location
    to_location: str | None


LOCATION_CELLS = ("location", "to_location", "default_location")


class RefusedCode(NamedTuple):
    line: int
    field: str
    code: str
    sku: str


class CheckedFile:
    """Every row of a file that passed its checks, kept compactly: columns in arrays (times as
    microseconds), not an object per row (160 bytes a row of the benchmark's file, against 460 as
    objects; external ids and notes are the bulk). Products in the order the file first names them.
    And what was wrong with the other rows (`refused`): such a file is refused whole by the import."""

    def __init__(self) -> None:
        # What is wrong with the rows refused, kept while reading goes on: the import refuses them with
        # what only the database can tell (unknown locations, products not named), in one list.
        self.refused: list[LineError] = []
        self.refused_codes: list[RefusedCode] = []  # location codes refused rows name, to check too
        self.refused_skus: set[str] = set()  # products named by a refused row (not "product_name is required")
        self.skus: list[str] = []  # product number → SKU
        self.numbers: dict[str, int] = {}
        self.first_line = array("q")  # per product: the first line with its SKU
        self.named: dict[int, tuple[int, ProductInput]] = {}  # per product: its first row naming it
        self.rows_of: list[array[int]] = []  # per product: its transaction rows (indexes below)
        self.lines = 0  # data rows read
        self.line = array("q")
        self.at = array("q")
        self.kind = bytearray()
        self.quantity = array("q")
        self.reason = bytearray()
        self.price: list[Decimal | None] = []
        self.note: list[str | None] = []
        self.external_id: list[str] = []
        # Locations as numbers into `codes` (a file names a few, on every row): 0 is none named.
        self.codes: list[str | None] = [None]
        self._code_numbers: dict[str | None, int] = {None: 0}
        self.location = array("i")
        self.to_location = array("i")

    def refuse(self, line: int, cells: Mapping[str, str | None], bad: InvalidInput) -> None:
        """A row that failed its own checks: its errors, and what it names that only the database can
        confirm (its well-formed location codes, its SKU when it names the product)."""
        self.refused += [LineError(line, e.field, e.message) for e in bad.errors]
        wrong = {e.field for e in bad.errors}
        sku = from_spreadsheet((cells.get("sku") or "").strip())
        for field in LOCATION_CELLS:
            code = (cells.get(field) or "").strip()
            if code and field not in wrong:
                self.refused_codes.append(RefusedCode(line, field, code, sku))
        if (cells.get("product_name") or "").strip():
            self.refused_skus.add(sku)

    def _number(self, sku: str, line: int) -> int:
        number = self.numbers.get(sku)
        if number is None:
            number = self.numbers[sku] = len(self.skus)
            self.skus.append(sku)
            self.first_line.append(line)
            self.rows_of.append(array("q"))
        return number

    def add(self, row: ImportRow) -> None:
        number = self._number(row.sku, row.line)
        if row.product is not None and number not in self.named:
            self.named[number] = (row.line, row.product)
        t = row.transaction
        if t is None:
            return
        assert t.at is not None and row.external_id is not None, "parse_row requires both in an import"
        self.add_fast(row.line, FastRow(row.sku, t.type, t.quantity, t.at, t.unit_price, t.reason, t.note,
                                        row.external_id, t.location, t.to_location))  # fmt: skip

    def add_fast(self, line: int, r: FastRow) -> None:
        number = self.numbers.get(r.sku)
        self.rows_of[self._number(r.sku, line) if number is None else number].append(len(self.line))
        self.line.append(line)
        self.at.append((r.at - EPOCH) // _MICROSECOND)
        self.kind.append(_KIND_INDEX[r.type])
        self.quantity.append(r.quantity)
        self.reason.append(_REASON_INDEX[r.reason])
        self.price.append(r.unit_price)
        self.note.append(r.note)
        self.external_id.append(r.external_id)
        numbers = self._code_numbers  # most rows name none, or a code seen before: no call
        at, to = numbers.get(r.location), numbers.get(r.to_location)
        self.location.append(self._code_number(r.location) if at is None else at)
        self.to_location.append(self._code_number(r.to_location) if to is None else to)

    def _code_number(self, code: str | None) -> int:
        number = self._code_numbers.get(code)
        if number is None:
            number = self._code_numbers[code] = len(self.codes)
            self.codes.append(code)
        return number

    @property
    def transactions(self) -> int:
        return len(self.line)

    def transfers_from_home(self) -> list[tuple[int, int]]:
        """(product, row) of every TRANSFER naming no location: it starts at its product's default."""
        transfer = _KIND_INDEX[TxType.TRANSFER]
        if transfer not in self.kind:  # at C speed: most files hold none
            return []
        return [(n, i) for n, rows in enumerate(self.rows_of) for i in rows
                if self.kind[i] == transfer and self.location[i] == 0]  # fmt: skip

    def rows(self, product: int) -> Iterator[int]:
        """A product's rows in the order they take in its timeline: by time, then by line."""
        return iter(sorted(self.rows_of[product], key=self.at.__getitem__))

    def row(self, i: int) -> FileRow:
        return FileRow(
            self.line[i], EPOCH + _MICROSECOND * self.at[i], _KIND_CODES[self.kind[i]], self.quantity[i],
            self.price[i], _REASON_CODES[self.reason[i]], self.note[i], self.external_id[i],
            self.codes[self.location[i]], self.codes[self.to_location[i]],
        )  # fmt: skip

    def entry(self, i: int, seq: int, home: str = MAIN) -> Entry:
        """Row `i` as the fold takes it, with its ingestion number; `home`: its product's default
        location, where a row that names none happens."""
        return Entry(seq, EPOCH + _MICROSECOND * self.at[i], _KIND_CODES[self.kind[i]], self.quantity[i],
                     self.price[i], _REASON_CODES[self.reason[i]], None, self.codes[self.location[i]] or home,
                     self.codes[self.to_location[i]])  # fmt: skip
