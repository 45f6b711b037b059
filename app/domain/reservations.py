"""Reservation rules (SPEC §2 "Reservations"): input, states and what each request may do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from app.domain import fields
from app.domain.errors import FieldErrors
from app.domain.inputs import sku as parse_sku

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 7 * 24 * 3600
ORDER_REF_MAX = 100
RESERVATION_FIELDS = ("sku", "quantity", "order_ref", "ttl_seconds")


class Status(StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Verdict(StrEnum):
    APPLY = "apply"  # make the change
    UNCHANGED = "unchanged"  # already done: answer with the reservation as it is
    CONFLICT = "conflict"  # the request contradicts the reservation's state


@dataclass(frozen=True, slots=True)
class ReservationInput:
    sku: str
    quantity: int
    order_ref: str
    ttl_seconds: int = DEFAULT_TTL_SECONDS


def parse_reservation(raw: Mapping[str, Any]) -> ReservationInput:
    errors = FieldErrors()
    for name in raw:
        if name not in RESERVATION_FIELDS:
            errors.add(name, "is not a known field")
    code = parse_sku(errors, raw.get("sku"))
    quantity = None
    if raw.get("quantity") is None:
        errors.add("quantity", "is required")
    else:
        quantity = fields.quantity(errors, "quantity", raw["quantity"])
    order_ref = fields.text(errors, "order_ref", raw.get("order_ref"), max_len=ORDER_REF_MAX, required=True)
    ttl = _ttl(errors, raw.get("ttl_seconds"))
    errors.raise_if_any()
    assert code is not None and quantity is not None and order_ref is not None
    return ReservationInput(code, quantity, order_ref, ttl)


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


def effective(status: Status, expires_at: datetime, now: datetime) -> Status:
    """An active reservation whose time has passed is expired, swept or not."""
    if status is Status.ACTIVE and expires_at <= now:
        return Status.EXPIRED
    return status


def on_confirm(status: Status) -> Verdict:
    if status is Status.ACTIVE:
        return Verdict.APPLY
    return Verdict.UNCHANGED if status is Status.CONFIRMED else Verdict.CONFLICT


def on_cancel(status: Status) -> Verdict:
    """Cancelling an expired reservation changes nothing and is not an error: it holds nothing."""
    if status is Status.ACTIVE:
        return Verdict.APPLY
    return Verdict.CONFLICT if status is Status.CONFIRMED else Verdict.UNCHANGED
