"""What a change did: the typed outcomes the services return (a record, what a ledger change did,
or a refusal as a value). Transports turn them into answers (REST JSON, a page); the idempotency
service keeps them with their key and gives a repeat the same outcome back."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from app.domain.errors import Conflict, FieldError, InvalidInput
from app.domain.immutable import immutable
from app.services.records import LedgerRow, ProductRecord, ReservationRecord


@immutable
class ProductChange:
    before: ProductRecord
    after: ProductRecord


@immutable
class Change:
    """A ledger change: what it did, or (a dry run, rolled back) what it would do."""

    row: LedgerRow | None  # the transaction as it now stands; None once deleted
    products: tuple[ProductChange, ...]  # the row's product first; a move adds the one it left

    @property
    def product(self) -> ProductChange:
        return self.products[0]


@immutable
class Voided:
    """A counter mistake undone: the transaction as it was, and the change its removal made."""

    row: LedgerRow
    change: Change


@immutable
class Held:
    """A reservation for an order: made now (`created`), or the one the same order already holds."""

    reservation: ReservationRecord
    created: bool


@immutable
class Confirmed:
    """A confirmed reservation and the sale it became (None if that sale was deleted since). A hold
    without a location may be confirmed from several: one sale per location, `sale` the first and
    `more` the others (empty in an outcome kept before locations: it decodes as it was)."""

    reservation: ReservationRecord
    sale: LedgerRow | None
    more: tuple[LedgerRow, ...] = ()
    earlier: bool = False  # confirmed before this request (by another, or by its own first try): nothing new sold

    @property
    def sales(self) -> list[LedgerRow]:
        return [*([self.sale] if self.sale else []), *self.more]


@immutable
class Refused:
    """A change refused, as a value: a group-commit batch answers each request its own refusal, and
    a key keeps it, so that a repeat is refused alike. A ledger rule's refusal (409), or a field rule
    only the batch could check (400: a TRANSFER to the product's default location, which is where
    it starts), with `extra["errors"]` naming the fields."""

    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    invalid: bool = False  # a field rule (400), not a ledger rule (409)

    @classmethod
    def of(cls, error: Conflict | InvalidInput) -> Refused:
        return cls(error.detail, error.extra, invalid=isinstance(error, InvalidInput))

    def error(self) -> Conflict | InvalidInput:
        if self.invalid:
            return InvalidInput([FieldError(e["field"], e["message"]) for e in self.extra.get("errors", [])])
        return Conflict(self.detail, self.extra)


@immutable
class EarlierAnswer:
    """An answer kept before keys kept outcomes (migration 2026-11-30T11:00): an HTTP status and JSON
    body, replayed as it was. None is left 48 h after that migration ran; then this can go."""

    status_code: int
    body: Any
