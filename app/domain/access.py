"""Who may do what (SPEC §5): roles, each including the ones before."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, tzinfo
from enum import IntEnum

from app.domain.commands import ReservationInput, TransactionInput
from app.domain.errors import DomainError
from app.domain.immutable import immutable
from app.domain.rules import TxType


class Role(IntEnum):
    VIEWER = 1
    CLERK = 2
    MANAGER = 3
    ADMIN = 4

    @classmethod
    def named(cls, name: str) -> Role:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"role must be one of {', '.join(r.name.lower() for r in cls)}") from None

    @property
    def label(self) -> str:
        return self.name.lower()


def role_to_record(kind: TxType, at: datetime | None, now: datetime, zone: tzinfo) -> Role:
    """A clerk records BUY and SELL dated today (in `zone`); anything else in the ledger needs a
    manager. Today is worked out only for a dated entry: not for a sale dated now, the hot path."""
    if kind not in (TxType.BUY, TxType.SELL):
        return Role.MANAGER
    if at is not None and at.astimezone(zone).date() != now.astimezone(zone).date():
        return Role.MANAGER
    return Role.CLERK


@immutable
class ClosedPeriod:
    """`books_closed_through` (SPEC §2): nothing dated on or before it may change."""

    through: date | None
    zone: tzinfo

    def covers(self, at: datetime) -> bool:
        return self.through is not None and at.astimezone(self.zone).date() <= self.through


# --- users limited to one location (SPEC §2 "Stock locations", last bullet) ----------------------


class LocationRefused(DomainError):
    """A user limited to one location named another, or would change a row that touches another
    (HTTP 403). `extra`: the `location` refused and the caller's own (`limited_to`)."""

    def __init__(self, location: str, limited_to: str, what: str) -> None:
        super().__init__(
            f"{what} at {location} is refused: you record only at {limited_to}",
            {"location": location, "limited_to": limited_to},
        )


def at_own_location(data: TransactionInput, limit: str | None) -> TransactionInput:
    """A new transaction as a user limited to `limit` may record it: at their location when it names
    none (a store's clerk never chooses one), refused when it names another. A TRANSFER always touches
    a second location, so it is refused too (its destination, or its source when only the destination
    is theirs). Unlimited (`limit` None): unchanged, at the product's default unless it names one."""
    if limit is None:
        return data
    what = f"A {data.type.value}"
    refuse_outside(limit, (data.location or limit, data.to_location), what)
    if data.type is TxType.TRANSFER:  # to their own location from one it does not name (the product's default)
        raise LocationRefused("the product's default location", limit, what)
    return data if data.location is not None else replace(data, location=limit)


def hold_at_own_location(data: ReservationInput, limit: str | None) -> ReservationInput:
    """A reservation as a user limited to `limit` may make it: held at their location when it names
    none, refused when it names another."""
    if limit is None:
        return data
    refuse_outside(limit, (data.location,), "A reservation")
    return data if data.location is not None else replace(data, location=limit)


def refuse_outside(limit: str | None, locations: Iterable[str | None], what: str) -> None:
    """LocationRefused naming the first of `locations` (None ones are skipped) that is not `limit`."""
    if limit is None:
        return
    for code in locations:
        if code is not None and code != limit:
            raise LocationRefused(code, limit, what)
