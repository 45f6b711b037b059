"""A ledger row as the JSON document the audit log keeps of it (before and after an edit, delete or
void). The audit page and the counter's "voided" confirmation read it back as a transaction, so its
shape is the API's transaction: app/web/views.py `transaction_view` is `transaction_document`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec

from app.domain.rules import Reason, TxType
from app.persistence.records import LedgerRow

_ENCODE = msgspec.json.Encoder().encode


def iso(value: datetime) -> str:
    """`value.isoformat()`: for a UTC time (every stored one), from msgspec's RFC 3339, whose only
    difference is "Z" for "+00:00" — 0.17 µs against 0.83, and a sale's answer has three."""
    if value.tzinfo is UTC:
        return _ENCODE(value)[1:-2].decode() + "+00:00"  # '"...Z"' → '...+00:00'
    return value.isoformat()


def audit_document(row: LedgerRow) -> str:
    return json.dumps(transaction_document(row))


def transaction_document(row: LedgerRow) -> dict[str, Any]:
    """A ledger row as JSON values: the API's transaction, and what the audit log keeps. Every sale's
    answer builds one: the figures that are never None are written with str() directly, and the
    enums' names looked up (an enum's `.value` is a property lookup, ~0.3 µs each)."""
    e, f = row.entry, row.figures
    return {
        "id": e.id,
        "seq": e.seq,
        "sku": row.sku,
        "type": _TYPE_NAMES[e.type],
        "quantity": e.quantity,
        "unit_price": None if e.unit_price is None else str(e.unit_price),
        "at": iso(e.at),
        "reason": _REASON_NAMES[e.reason] if e.reason else None,
        "note": row.note,
        "stock_after": f.stock_after,
        "average_cost_after": str(f.average_cost_after),
        "revenue": str(f.revenue),
        "cogs": str(f.cogs),
        "realized_pl": str(f.realized_pl),
        "write_off": str(f.write_off),
        "gain": str(f.gain),
        "location": e.location,
        "to_location": e.to_location,
        "location_stock_after": f.location_stock_after,
        "to_location_stock_after": f.to_location_stock_after,
    }


_TYPE_NAMES = {kind: kind.value for kind in TxType}
_REASON_NAMES = {reason: reason.value for reason in Reason}
