"""Tiny ledger texts for scenario tests, one transaction a line:

    2026-01-05 BUY 10 @ 4.00
    2026-01-06 SELL 3 @ 9.50
    2026-01-07 ADJUST -1 damage
    2026-01-08 ADJUST 2 found @ 4.10
    2026-01-09 COUNT 7

With stock locations (SPEC §2 "Stock locations"), a line may end with `at CODE` (where it happens;
MAIN without it), and a TRANSFER names its source and destination as `FROM>TO`:

    2026-01-05 BUY 10 @ 4.00 at STORE
    2026-01-06 TRANSFER 3 MAIN>STORE
    2026-01-07 COUNT 5 at STORE

Lines are numbered as their `seq` (and `id`), in the order written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from app.domain.ledger import Entry
from app.domain.rules import MAIN, Reason, TxType


def parse(text: str) -> list[Entry]:
    entries = []
    for seq, line in enumerate(l.strip() for l in text.strip().splitlines() if l.strip()):
        entries.append(parse_line(line, seq + 1))
    return entries


def parse_line(line: str, seq: int) -> Entry:
    words = line.split()
    location = MAIN
    if len(words) > 2 and words[-2] == "at":
        location, words = words[-1], words[:-2]
    body, _, price = " ".join(words).partition("@")
    words = body.split()
    stamp, kind = words[0], TxType(words[1])
    when = datetime.fromisoformat(stamp)
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    to_location = None
    if kind is TxType.TRANSFER:
        location, _, to_location = words[3].partition(">")
        reason = None
    else:
        reason = Reason(words[3]) if len(words) > 3 else None
    return Entry(
        seq=seq,
        id=seq,
        at=when,
        type=kind,
        quantity=int(words[2]),
        unit_price=Decimal(price.strip()) if price.strip() else None,
        reason=reason,
        location=location,
        to_location=to_location,
    )
