"""Moved: the repositories are app.persistence.{products,ledger_rows,reservations,locks,settings,audit}.
These names stay until the modules that still import them from here (events, reports, selfcheck,
catalogue_csv) import them from there."""

from app.persistence.ledger_rows import NewRow, copy_rows, next_seqs, timeline_rows
from app.persistence.products import PRODUCT_SELECT, product_from, save_all_figures
from app.persistence.products import by_ids as products_by_ids

__all__ = [
    "PRODUCT_SELECT", "NewRow", "copy_rows", "next_seqs", "product_from", "products_by_ids", "save_all_figures",
    "timeline_rows",
]  # fmt: skip
