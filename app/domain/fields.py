"""Parsers for single input fields. Each returns the value or records why it is wrong."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal, InvalidOperation

from app.domain.errors import FieldErrors
from app.domain.rules import FUTURE_TOLERANCE_SECONDS, MAX_PRICE, MAX_QUANTITY, PRICE_PLACES

_INT_TEXT = re.compile(r"^[+-]?\d+$")
_DECIMAL_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
MISSING = object()


def integer(errors: FieldErrors, name: str, raw: object) -> int | None:
    if isinstance(raw, bool):
        errors.add(name, "must be a whole number, not true/false")
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and _INT_TEXT.match(raw.strip()):
        return int(raw.strip())
    if isinstance(raw, (Decimal, str)):
        errors.add(name, f"must be a whole number, got {str(raw)!r}")
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
        errors.add(name, f"must be less than {MAX_QUANTITY:,} in size")
    elif value == 0 and not allow_zero:
        errors.add(name, "must not be zero")
    elif value < 0 and not signed:
        errors.add(name, "must not be negative" if allow_zero else "must be greater than zero")
    else:
        return value
    return None


def price(errors: FieldErrors, name: str, raw: object) -> Decimal | None:
    """A money amount: a decimal string (or exact JSON number), 0 ≤ p < 1e9, at most 4 places."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        errors.add(name, 'must be a decimal number written as a string, like "12.50"')
        return None
    text = str(raw).strip()
    if not _DECIMAL_TEXT.match(text):
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
        return value.quantize(Decimal(1).scaleb(-PRICE_PLACES))
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
    if any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in value):
        errors.add(name, "must not contain control characters")
        return None
    return value


def moment(errors: FieldErrors, name: str, raw: object, *, now: datetime, zone: tzinfo) -> datetime | None:
    """An ISO 8601 time; without an offset it is read in the business time zone."""
    if not isinstance(raw, str):
        errors.add(name, "must be an ISO 8601 date-time string")
        return None
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        errors.add(name, f"must be an ISO 8601 date-time, got {raw[:40]!r}")
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if value.year < 1900:
        errors.add(name, "must be after 1900")
        return None
    if value > now + timedelta(seconds=FUTURE_TOLERANCE_SECONDS):
        errors.add(name, "must not be more than 5 minutes in the future")
        return None
    return value
