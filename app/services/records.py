"""The records services hand upwards, defined where they are read: app.persistence.records."""

from app.persistence.records import LedgerRow, ProductRecord, ReservationRecord

__all__ = ["LedgerRow", "ProductRecord", "ReservationRecord"]
