"""Vocabulary and limits of the ledger (SPEC §2)."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum


class TxType(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    ADJUST = "ADJUST"
    COUNT = "COUNT"
    TRANSFER = "TRANSFER"  # moves units between two locations of the product (SPEC §2 "Stock locations")


class Reason(StrEnum):
    DAMAGE = "damage"
    LOSS = "loss"
    THEFT = "theft"
    EXPIRED = "expired"
    FOUND = "found"
    RETURN = "return"
    CORRECTION = "correction"
    OTHER = "other"


class LocationKind(StrEnum):
    STORAGE = "storage"
    TRANSIT = "transit"  # goods on the way: a transfer ships into it, a later one receives out of it


# The location every database has; a database made before locations keeps all its history there.
MAIN = "MAIN"
LOCATION_CODE_MAX = 32

MAX_QUANTITY = 1_000_000_000  # exclusive
MAX_PRICE = Decimal(1_000_000_000)  # exclusive
PRICE_PLACES = 4
NOTE_MAX = 500
SKU_MAX = 64
NAME_MAX = 200
TEXT_FIELD_MAX = 100  # category, brand
FUTURE_TOLERANCE_SECONDS = 300
DEFAULT_COUNT_INTERVAL_DAYS = 30

# Reservations (SPEC §2 "Reservations")
DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 7 * 24 * 3600
ORDER_REF_MAX = 100
