"""Tiny ledger texts for scenario tests, one transaction a line:

    2026-01-05 BUY 10 @ 4.00
    2026-01-06 SELL 3 @ 9.50
    2026-01-07 ADJUST -1 damage
    2026-01-08 ADJUST 2 found @ 4.10
    2026-01-09 COUNT 7

Lines are numbered as their `seq` (and `id`), in the order written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.ledger import Entry
from app.domain.rules import Reason, TxType


def parse(text: str) -> list[Entry]:
    entries = []
    for seq, line in enumerate(l.strip() for l in text.strip().splitlines() if l.strip()):
        entries.append(parse_line(line, seq + 1))
    return entries


def parse_line(line: str, seq: int) -> Entry:
    body, _, price = line.partition("@")
    words = body.split()
    stamp, kind, quantity = words[0], TxType(words[1]), int(words[2])
    when = datetime.fromisoformat(stamp)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    reason = Reason(words[3]) if len(words) > 3 else None
    return Entry(
        seq=seq,
        id=seq,
        at=when,
        type=kind,
        quantity=quantity,
        unit_price=Decimal(price.strip()) if price.strip() else None,
        reason=reason,
    )
