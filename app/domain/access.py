"""Who may do what (SPEC §5): roles, each including the ones before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import IntEnum

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


def role_to_record(kind: TxType, at: datetime | None, today: date, zone: tzinfo) -> Role:
    """A clerk records BUY and SELL dated today; anything else in the ledger needs a manager."""
    if kind not in (TxType.BUY, TxType.SELL):
        return Role.MANAGER
    if at is not None and at.astimezone(zone).date() != today:
        return Role.MANAGER
    return Role.CLERK


@dataclass(frozen=True, slots=True)
class ClosedPeriod:
    """`books_closed_through` (SPEC §2): nothing dated on or before it may change."""

    through: date | None
    zone: tzinfo

    def covers(self, at: datetime) -> bool:
        return self.through is not None and at.astimezone(self.zone).date() <= self.through
