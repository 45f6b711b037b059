"""Whole requests (a product, a transaction, a reservation, a confirm) read field by field into
commands, every wrong field named (SPEC §2)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from app.domain.commands import ProductInput, ReservationInput, TransactionInput
from app.domain.errors import FieldError, FieldErrors, InvalidInput
from app.domain.rules import (
    DEFAULT_COUNT_INTERVAL_DAYS,
    DEFAULT_TTL_SECONDS,
    LOCATION_CODE_MAX,
    MAIN,
    MAX_TTL_SECONDS,
    NAME_MAX,
    NOTE_MAX,
    ORDER_REF_MAX,
    SKU_MAX,
    TEXT_FIELD_MAX,
    Reason,
    TxType,
)
from app.intake import fields

SKU_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
PRODUCT_FIELDS = (
    "sku",
    "name",
    "category",
    "brand",
    "low_stock_threshold",
    "overstock_threshold",
    "count_interval_days",
    "barcode",
    "sell_price",
    "default_location",
)
TRANSACTION_FIELDS = ("sku", "type", "quantity", "unit_price", "at", "reason", "note", "location", "to_location")
_TAKES_PRICE = {TxType.BUY, TxType.SELL, TxType.ADJUST}  # not COUNT or TRANSFER
_NEEDS_PRICE = {TxType.BUY, TxType.SELL}


def _reject_unknown(errors: FieldErrors, raw: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    for name in raw:
        if name not in allowed:
            errors.add(name, "is not a known field")


def sku(errors: FieldErrors, raw: object) -> str | None:
    if not isinstance(raw, str) or not raw:
        errors.add("sku", "is required")
        return None
    if len(raw) > SKU_MAX:
        errors.add("sku", f"must be at most {SKU_MAX} characters")
        return None
    if not SKU_PATTERN.fullmatch(raw):  # fullmatch: "$" alone would let a trailing newline through
        errors.add("sku", "must use only letters, digits, '.', '_' and '-', starting with a letter or digit")
        return None
    return raw


def parse_product(raw: Mapping[str, Any]) -> ProductInput:
    errors = FieldErrors()
    _reject_unknown(errors, raw, PRODUCT_FIELDS)
    code = sku(errors, raw.get("sku"))
    name = fields.text(errors, "name", raw.get("name"), max_len=NAME_MAX, required=True)
    category = fields.text(errors, "category", raw.get("category"), max_len=TEXT_FIELD_MAX)
    brand = fields.text(errors, "brand", raw.get("brand"), max_len=TEXT_FIELD_MAX)
    low = _bounded_int(errors, "low_stock_threshold", raw.get("low_stock_threshold"), 0, minimum=0)
    over = _bounded_int(errors, "overstock_threshold", raw.get("overstock_threshold"), None, minimum=1)
    interval = _bounded_int(
        errors, "count_interval_days", raw.get("count_interval_days"), DEFAULT_COUNT_INTERVAL_DAYS, minimum=1
    )
    code_on_pack = fields.barcode(errors, "barcode", raw.get("barcode"))
    sell_price = None if raw.get("sell_price") in (None, "") else fields.price(errors, "sell_price", raw["sell_price"])
    home = location_code(errors, "default_location", raw.get("default_location")) or MAIN
    errors.raise_if_any()
    assert code is not None and name is not None and low is not None and interval is not None
    return ProductInput(code, name, category, brand, low, over, interval, code_on_pack, sell_price, home)


def _bounded_int(errors: FieldErrors, name: str, raw: object, default: int | None, *, minimum: int) -> int | None:
    if raw is None or raw == "":
        return default
    value = fields.integer(errors, name, raw)
    if value is None:
        return default
    if value < minimum:
        errors.add(name, f"must be at least {minimum}")
    elif value >= 1_000_000_000:
        errors.add(name, "must be less than 1,000,000,000")
    return value


def merge_product_patch(current: ProductInput, patch: Mapping[str, Any]) -> dict[str, Any]:
    """The whole product as it would be after a PATCH (the SKU cannot change)."""
    merged: dict[str, Any] = {name: getattr(current, name) for name in PRODUCT_FIELDS}
    if "sku" in patch and patch["sku"] != current.sku:
        raise InvalidInput([FieldError("sku", "cannot be changed (a product keeps its SKU)")])
    merged.update(patch)
    return merged


def stock_threshold(errors: FieldErrors, name: str, raw: object) -> int | None:
    """A low-stock threshold as a product's settings take it (a whole number from 0 below 1,000,000,000)."""
    return _bounded_int(errors, name, raw, None, minimum=0)


def parse_transaction(raw: Mapping[str, Any], *, now: datetime, zone: tzinfo) -> TransactionInput:
    errors = FieldErrors()
    _reject_unknown(errors, raw, TRANSACTION_FIELDS)
    code = sku(errors, raw.get("sku"))
    kind = _type(errors, raw.get("type"))
    signed = kind is TxType.ADJUST
    quantity = None
    if raw.get("quantity") is None:
        errors.add("quantity", "is required")
    else:
        quantity = fields.quantity(errors, "quantity", raw["quantity"], signed=signed, allow_zero=kind is TxType.COUNT)
    unit_price = _unit_price(errors, raw.get("unit_price"), kind, quantity)
    at = None if raw.get("at") in (None, "") else fields.moment(errors, "at", raw["at"], now=now, zone=zone)
    reason = _reason(errors, raw.get("reason"), kind)
    note = fields.text(errors, "note", raw.get("note"), max_len=NOTE_MAX)
    location = location_code(errors, "location", raw.get("location"))
    to_location = _to_location(errors, raw.get("to_location"), kind, location)
    errors.raise_if_any()
    assert code is not None and kind is not None and quantity is not None
    return TransactionInput(code, kind, quantity, at, unit_price, reason, note, location, to_location)


def location_code(errors: FieldErrors, name: str, raw: object) -> str | None:
    """An optional location code (SPEC §2: the SKU's character rules, 1–32 characters)."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        errors.add(name, "must be a location code")
        return None
    if len(raw) > LOCATION_CODE_MAX:
        errors.add(name, f"must be at most {LOCATION_CODE_MAX} characters")
        return None
    if not SKU_PATTERN.fullmatch(raw):
        errors.add(name, "must use only letters, digits, '.', '_' and '-', starting with a letter or digit")
        return None
    return raw


def _given_for(errors: FieldErrors, name: str, raw: object, kind: TxType | None, taker: TxType) -> bool:
    """Whether a field only `taker` takes (and needs) is given for it: given for another type, or
    missing for it, is a field error."""
    absent = raw is None or raw == ""
    if kind is not taker:
        if not absent and kind is not None:
            errors.add(name, f"is only taken by {taker}, not {kind}")
        return False
    if absent:
        errors.add(name, f"is required for {taker}")
        return False
    return True


def _to_location(errors: FieldErrors, raw: object, kind: TxType | None, location: str | None) -> str | None:
    if not _given_for(errors, "to_location", raw, kind, TxType.TRANSFER):
        return None
    code = location_code(errors, "to_location", raw)
    if code is not None and code == location:
        errors.add("to_location", "must differ from location")
    return code


def _type(errors: FieldErrors, raw: object) -> TxType | None:
    if raw is None or raw == "":
        errors.add("type", "is required")
        return None
    text = str(raw)  # ASCII only: str.upper() makes "ſell" (a long s) "SELL"
    if (kind := _TX_TYPES.get(text.upper()) if text.isascii() else None) is None:
        errors.add("type", f"must be one of {', '.join(t.value for t in TxType)}")
    return kind


_TX_TYPES = {t.value: t for t in TxType}  # a dict lookup: TxType(...) costs an exception's machinery


def _unit_price(errors: FieldErrors, raw: object, kind: TxType | None, quantity: int | None) -> Decimal | None:
    absent = raw is None or raw == ""
    if kind in _NEEDS_PRICE and absent:
        errors.add("unit_price", f"is required for {kind}")
        return None
    if absent:
        return None
    if kind is not None and kind not in _TAKES_PRICE:
        errors.add("unit_price", f"is not taken by {kind}")
        return None
    if kind is TxType.ADJUST and quantity is not None and quantity < 0:
        errors.add("unit_price", "is only taken by an ADJUST that adds stock")
        return None
    return fields.price(errors, "unit_price", raw)


def _reason(errors: FieldErrors, raw: object, kind: TxType | None) -> Reason | None:
    if not _given_for(errors, "reason", raw, kind, TxType.ADJUST):
        return None
    try:
        return Reason(str(raw).lower())
    except ValueError:
        errors.add("reason", f"must be one of {', '.join(r.value for r in Reason)}")
        return None


def merge_transaction_patch(current: TransactionInput, patch: Mapping[str, Any]) -> dict[str, Any]:
    """The whole transaction as it would be after a PATCH.

    Fields the (new) type does not take are dropped from the current row, so
    turning a BUY into a COUNT, or a SELL into an ADJUST that takes stock away,
    just works; naming them in the patch is an error.
    """
    merged: dict[str, Any] = {
        "sku": current.sku,
        "type": current.type.value,
        "quantity": current.quantity,
        "unit_price": None if current.unit_price is None else str(current.unit_price),
        "at": current.at.isoformat() if current.at else None,
        "reason": None if current.reason is None else current.reason.value,
        "note": current.note,
        "location": current.location,
        "to_location": current.to_location,
    }
    new_type = _peek_type(patch.get("type", current.type.value))
    if new_type is not None and new_type is not current.type:
        if new_type not in _TAKES_PRICE:
            merged["unit_price"] = None
        if new_type is not TxType.ADJUST:
            merged["reason"] = None
        if new_type is not TxType.TRANSFER:
            merged["to_location"] = None
    takes_away = new_type is TxType.ADJUST and _peek_quantity(patch.get("quantity", current.quantity)) < 0
    if takes_away and "unit_price" not in patch:  # a write-off is valued at cost: it takes no price
        merged["unit_price"] = None
    merged.update(patch)
    return merged


def _peek_quantity(raw: object) -> int:
    """The quantity a patch names, if it is a plain whole number (else 0: its own rule will judge it)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    text = str(raw).strip()
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else 0


def _peek_type(raw: object) -> TxType | None:
    try:
        return TxType(str(raw).upper())
    except ValueError:
        return None


RESERVATION_FIELDS = ("sku", "quantity", "order_ref", "ttl_seconds", "location")


def parse_reservation(raw: Mapping[str, Any]) -> ReservationInput:
    errors = FieldErrors()
    for name in raw:
        if name not in RESERVATION_FIELDS:
            errors.add(name, "is not a known field")
    code = sku(errors, raw.get("sku"))
    quantity = None
    if raw.get("quantity") is None:
        errors.add("quantity", "is required")
    else:
        quantity = fields.quantity(errors, "quantity", raw["quantity"])
    order_ref = fields.text(errors, "order_ref", raw.get("order_ref"), max_len=ORDER_REF_MAX, required=True)
    ttl = _ttl(errors, raw.get("ttl_seconds"))
    location = location_code(errors, "location", raw.get("location"))
    errors.raise_if_any()
    assert code is not None and quantity is not None and order_ref is not None
    return ReservationInput(code, quantity, order_ref, ttl, location)


def _ttl(errors: FieldErrors, raw: object) -> int:
    if raw is None or raw == "":
        return DEFAULT_TTL_SECONDS
    value = fields.integer(errors, "ttl_seconds", raw)
    if value is None:
        return DEFAULT_TTL_SECONDS
    if not 1 <= value <= MAX_TTL_SECONDS:
        errors.add("ttl_seconds", f"must be between 1 and {MAX_TTL_SECONDS} (7 days)")
    return value


def parse_confirm(raw: Mapping[str, Any]) -> Decimal:
    errors = FieldErrors()
    for name in raw:
        if name != "unit_price":
            errors.add(name, "is not a known field")
    price = None
    if raw.get("unit_price") in (None, ""):
        errors.add("unit_price", "is required to confirm")
    else:
        price = fields.price(errors, "unit_price", raw["unit_price"])
    errors.raise_if_any()
    assert price is not None
    return price
