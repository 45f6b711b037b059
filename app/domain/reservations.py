"""Reservation rules (SPEC §2 "Reservations"): states and what each request may do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    ACTIVE = "active"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Verdict(StrEnum):
    APPLY = "apply"  # make the change
    UNCHANGED = "unchanged"  # already done: answer with the reservation as it is
    CONFLICT = "conflict"  # the request contradicts the reservation's state


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


def fulfilment(quantity: int, default: str, free: Mapping[str, int], storage: Iterable[str]) -> list[tuple[str, int]]:
    """Where the sale of a hold that names no location takes its units (SPEC §2 "Stock locations"):
    the product's default location first, then its other `storage` locations (never `transit`:
    goods on the way are not on a shelf) in code order, at each what is `free` there (on hand less
    what holds naming it keep). One (location, units) per location used, in that order; short of
    `quantity` when the free stock is: the caller refuses such a plan."""
    plan: list[tuple[str, int]] = []
    left = quantity
    for code in [default, *sorted(set(storage) - {default})]:
        take = min(left, max(0, free.get(code, 0)))
        if take:
            plan.append((code, take))
            left -= take
        if not left:
            break
    return plan
