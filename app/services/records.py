"""The records the services hand upwards (a product with its figures, a ledger row, a reservation),
for transports to import from the service layer; the repositories that read them define them."""

from app.persistence.records import LedgerRow, ProductRecord, ReservationRecord

__all__ = ["LedgerRow", "ProductRecord", "ReservationRecord"]
