"""Reservation rules (SPEC §2 "Reservations"): states and what each request may do."""

from __future__ import annotations

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
