"""What a ledger change did (or, in a dry run, would do)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.records import LedgerRow, ProductRecord


@dataclass(frozen=True, slots=True)
class ProductChange:
    before: ProductRecord
    after: ProductRecord


@dataclass(frozen=True, slots=True)
class Change:
    row: LedgerRow | None  # the transaction as it now stands; None once deleted
    products: tuple[ProductChange, ...]  # the row's product first; a move adds the one it left

    @property
    def product(self) -> ProductChange:
        return self.products[0]


class DryRunRollback(Exception):
    """Raised inside a unit of work to undo a fully computed change and hand it out."""

    def __init__(self, change: Change) -> None:
        super().__init__("dry run")
        self.change = change
