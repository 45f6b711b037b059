"""A counter mistake undone (issue 10): a clerk may void their own transaction, recorded in the
last 10 minutes and dated today. Anything else stays a manager's edit or delete."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

from app.domain.errors import DomainError
from app.domain.immutable import immutable

VOID_WINDOW = timedelta(minutes=10)


@immutable
class VoidFacts:
    """What the rule needs to know about a stored transaction besides its entry."""

    recorded_at: datetime  # when it was committed (not its event time `at`)
    recorded_by_caller: bool
    changed_since: bool  # a manager edited it after it was recorded


class VoidRefused(DomainError):
    """A clerk asked to void what only a manager may delete (HTTP 403)."""


def refuse_void(tx_id: int, at: datetime, facts: VoidFacts, *, now: datetime, zone: tzinfo) -> None:
    """Raise VoidRefused naming every reason when a clerk may not void this transaction."""
    why = []
    if not facts.recorded_by_caller:
        why.append("it was not recorded by you (or was recorded without an idempotency key)")
    age = now - facts.recorded_at
    if age > VOID_WINDOW:
        why.append(f"it was recorded {_ago(age)} ago, more than {_ago(VOID_WINDOW)}")
    if at.astimezone(zone).date() != now.astimezone(zone).date():
        why.append(f"it is dated {at.astimezone(zone):%d %b %Y}, not today")
    if facts.changed_since:
        why.append("a manager has changed it since")
    if why:
        raise VoidRefused(
            f"You can't void transaction {tx_id}: {'; '.join(why)}. A clerk may void only their own entry "
            f"of the last {_ago(VOID_WINDOW)}, dated today; ask a manager to delete it.",
            {"id": tx_id, "reasons": why},
        )


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60} min" if minutes % 60 else f"{hours} h"
    return f"{hours // 24} days"
