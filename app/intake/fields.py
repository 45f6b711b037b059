"""Parsers for single input fields. Each returns the value or records why it is wrong."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from app.domain.errors import FieldErrors
from app.domain.rules import FUTURE_TOLERANCE_SECONDS, MAX_PRICE, MAX_QUANTITY, PRICE_PLACES

# [0-9], not \d: \d, int() and Decimal() all accept any script's digits ("１２", "١٢"), which are not plain notation.
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)")
_PRICE_QUANTUM = Decimal(1).scaleb(-PRICE_PLACES)  # 0.0001: every stored price has 4 places
# datetime.fromisoformat reads any number of fractional digits and silently drops those past the sixth.
_FRACTION = re.compile(r"[0-9]{2}:?[0-9]{2}:?[0-9]{2}[.,]([0-9]+)")  # extended (12:00:00.5) or basic (120000.5)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)  # a day short of datetime.max, so any offset still converts to UTC
MISSING = object()
MAX_INTEGER_DIGITS = 18  # every whole number is stored as a bigint (at most 19 digits): no field takes more
ASCII_DIGITS = "must be written with the digits 0-9"


def unstorable(value: str) -> str | None:
    """Why PostgreSQL could not store this text, or None. A NUL is refused by its text types; a lone
    surrogate (JSON "\\ud800") is no character at all, so the text cannot be encoded as UTF-8."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as bad:
        return f"must be valid Unicode text (it contains a lone surrogate, U+{ord(value[bad.start]):04X})"
    return None


def integer(errors: FieldErrors, name: str, raw: object) -> int | None:
    if isinstance(raw, bool):
        errors.add(name, "must be a whole number, not true/false")
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INT_TEXT.fullmatch(text := raw.strip()):
        if len(text.lstrip("+-").lstrip("0")) > MAX_INTEGER_DIGITS:  # int() refuses past 4,300 digits
            errors.add(name, f"must be a whole number of at most {MAX_INTEGER_DIGITS} digits")
            return None
        return int(text)
    if (
        isinstance(raw, Decimal)
        and raw.is_finite()
        and raw == raw.to_integral_value()
        and raw.adjusted() >= MAX_INTEGER_DIGITS
    ):
        errors.add(name, f"must be a whole number of at most {MAX_INTEGER_DIGITS} digits")  # a JSON number that long
        return None
    if isinstance(raw, str) and not raw.isascii() and any(ch.isdigit() for ch in raw):
        errors.add(name, f"{ASCII_DIGITS}, got {ascii(raw[:40])}")
        return None
    if isinstance(raw, str) and not raw.strip():  # a form's empty field: optional ones never get here
        errors.add(name, "is required")
        return None
    if isinstance(raw, (Decimal, str)):
        errors.add(name, f"must be a whole number, got {str(raw)[:40]!r}")
        return None
    errors.add(name, "must be a whole number")
    return None


def quantity(
    errors: FieldErrors, name: str, raw: object, *, signed: bool = False, allow_zero: bool = False
) -> int | None:
    value = integer(errors, name, raw)
    if value is None:
        return None
    if abs(value) >= MAX_QUANTITY:
        largest = MAX_QUANTITY - 1
        errors.add(name, f"must be between {-largest:,} and {largest:,}" if signed else f"must be at most {largest:,}")
    elif value == 0 and not allow_zero:
        errors.add(name, "must not be zero" if signed else "must be greater than zero")
    elif value < 0 and not signed:
        errors.add(name, "must not be negative" if allow_zero else "must be greater than zero")
    else:
        return value
    return None


# Prices accepted lately, by the text sent: a counter or an order system sends the same few prices
# again and again, and reading one (pattern, Decimal, checks, quantize) is ~3 µs of a hot sale's CPU.
# Only accepted texts are kept (a Decimal is immutable); the whole store is dropped when full.
_ACCEPTED_PRICES: dict[str, Decimal] = {}
_ACCEPTED_PRICES_AT_MOST = 4096


def price(errors: FieldErrors, name: str, raw: object) -> Decimal | None:
    """A money amount: a decimal string (or exact JSON number), 0 ≤ p < 1e9, at most 4 places."""
    if type(raw) is str and (known := _ACCEPTED_PRICES.get(raw)) is not None:
        return known
    value = _price(errors, name, raw)
    if value is not None and type(raw) is str:
        if len(_ACCEPTED_PRICES) >= _ACCEPTED_PRICES_AT_MOST:
            _ACCEPTED_PRICES.clear()
        _ACCEPTED_PRICES[raw] = value
    return value


def _price(errors: FieldErrors, name: str, raw: object) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        errors.add(name, 'must be a decimal number written as a string, like "12.50"')
        return None
    text = str(raw).strip()
    if not text:  # spaces alone: nothing was entered
        errors.add(name, "is required")
        return None
    if not text.isascii() and any(ch.isdigit() for ch in text):
        errors.add(name, f"{ASCII_DIGITS}, got {ascii(text[:40])}")
        return None
    if not _DECIMAL_TEXT.fullmatch(text):
        errors.add(name, f"must be a plain decimal number, got {text[:40]!r}")
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.add(name, f"must be a decimal number, got {text[:40]!r}")
        return None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # NaN/Infinity are excluded by the pattern above
    if -exponent > PRICE_PLACES:
        errors.add(name, f"must have at most {PRICE_PLACES} decimal places")
    elif value < 0:
        errors.add(name, "must not be negative")
    elif value >= MAX_PRICE:
        errors.add(name, f"must be less than {MAX_PRICE:,}")
    else:
        value = value.quantize(_PRICE_QUANTUM)
        # "-0" is zero: kept signed it would be echoed as "-0.0000" and its revenue as "-0.00".
        return abs(value) if value.is_zero() else value
    return None


def text(errors: FieldErrors, name: str, raw: object, *, max_len: int, required: bool = False) -> str | None:
    """Trimmed, NFC-normalised text; empty means absent."""
    if raw is None:
        value = ""
    elif isinstance(raw, str):
        value = unicodedata.normalize("NFC", raw.strip())
    else:
        errors.add(name, "must be text")
        return None
    if not value:
        if required:
            errors.add(name, "is required")
        return None
    if len(value) > max_len:
        errors.add(name, f"must be at most {max_len} characters (got {len(value)})")
        return None
    if problem := unstorable(value):
        errors.add(name, problem)
        return None
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        errors.add(name, "must not contain control characters")
        return None
    if all(unicodedata.category(ch)[0] in "ZC" for ch in value):  # only spaces and invisible marks (U+200B…)
        errors.add(name, "must contain a visible character")
        return None
    return value


def moment(errors: FieldErrors, name: str, raw: object, *, now: datetime, zone: tzinfo) -> datetime | None:
    """An ISO 8601 time; without an offset it is read in the business time zone."""
    value = _iso_time(errors, name, raw, zone, what="date-time")
    if value is not None and value > now + timedelta(seconds=FUTURE_TOLERANCE_SECONDS):
        errors.add(name, "must not be more than 5 minutes in the future")
        return None
    return value


def time_filter(errors: FieldErrors, name: str, raw: object, *, zone: tzinfo) -> datetime | None:
    """A bound of a time range (an export's `start`/`end`): a date or date-time, future ones too."""
    return _iso_time(errors, name, raw, zone, what="date or date-time")


def as_of(errors: FieldErrors, name: str, raw: object, *, zone: tzinfo) -> datetime | None:
    """A moment to report at: an ISO date-time, or a date meaning the end of that day in `zone`
    (so "2026-10-31" closes October, its last sale included)."""
    moment = _iso_time(errors, name, raw, zone, what="date or date-time")
    if moment is None or not isinstance(raw, str) or len(raw.strip()) != 10:
        return moment
    next_day = datetime.combine(moment.date() + timedelta(days=1), time(), tzinfo=zone)
    return next_day - timedelta(microseconds=1)


def _iso_time(errors: FieldErrors, name: str, raw: object, zone: tzinfo, *, what: str) -> datetime | None:
    if not isinstance(raw, str):
        errors.add(name, f"must be an ISO 8601 {what} string")
        return None
    text = raw.strip()
    if not text.isascii():
        errors.add(name, f"must be an ISO 8601 {what} in plain ASCII, got {ascii(text[:40])}")
        return None
    fraction = _FRACTION.search(text)
    if fraction and len(fraction.group(1)) > 6:
        errors.add(name, "must have at most 6 digits of fractional seconds (microseconds are the finest unit kept)")
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        errors.add(name, f"must be an ISO 8601 {what}, got {text[:40]!r}")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    # Compared as instants, so 1900-01-01T00:00+14:00 (1899 in UTC) is refused like any other 1899 time.
    if value < EARLIEST:
        errors.add(name, "must be on or after 1900-01-01T00:00:00Z")
        return None
    if value > LATEST:
        errors.add(name, "must be before 9999-12-30")
        return None
    return value


BARCODE_LENGTHS = {13: "EAN-13", 12: "UPC-A", 8: "EAN-8"}


def barcode(errors: FieldErrors, name: str, raw: object) -> str | None:
    """An EAN-13, UPC-A or EAN-8 as digits (text: a number would lose leading zeros), with a valid
    GS1 check digit; empty means absent."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        errors.add(name, 'must be the code\'s digits written as a string, like "4006381333931"')
        return None
    code = raw.strip()
    if not code:
        return None
    if not (code.isascii() and code.isdigit()):
        errors.add(name, f"must be only the digits 0-9, got {code[:40]!r}")
        return None
    if len(code) not in BARCODE_LENGTHS:
        errors.add(name, f"must have 13 (EAN-13), 12 (UPC-A) or 8 (EAN-8) digits, got {len(code)}")
        return None
    expected = gs1_check_digit(code[:-1])
    if code[-1] != expected:
        kind = BARCODE_LENGTHS[len(code)]
        errors.add(name, f"is not a valid {kind}: its check digit should be {expected}, not {code[-1]}")
        return None
    return code


def misread_barcode(code: str) -> str | None:
    """Why `code`, which names no product, looks like a misread scan: the digits of a barcode whose
    check digit is wrong. None for anything else (a typed SKU, a valid code nobody has)."""
    code = code.strip()
    if not (code.isascii() and code.isdigit() and len(code) in BARCODE_LENGTHS):
        return None
    expected = gs1_check_digit(code[:-1])
    if code[-1] == expected:
        return None
    return (f"no product has the code {code!r}, and it is not a valid {BARCODE_LENGTHS[len(code)]}: its check "
            f"digit should be {expected}, not {code[-1]} (scan it again, or type the SKU)")


def gs1_check_digit(body: str) -> str:
    """The GS1 mod-10 check digit: weights 3, 1, 3 … starting next to the check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)
