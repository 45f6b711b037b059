"""The audit log page: every edit, delete and void of a transaction, newest first, read as a manager
reads it — which row, and for an edit what was changed from what to what. The rows as recorded (the
API's transaction, before and after) stay on the page, folded, for the record."""

from __future__ import annotations

import json
from typing import Any

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from app.display import NOUNS, Display
from app.domain.access import Role
from app.persistence import audit
from app.persistence.database import Database
from app.web.pages.forms import page

SHOWN = 200  # the newest entries the page lists

# What a person enters on a transaction, in the order the forms ask for it: an edit is shown as
# the ones it changed. (The figures after it — stock, cost, profit — follow from these.)
ENTERED = (("type", "type"), ("quantity", "quantity"), ("unit_price", "unit price"), ("at", "date"),
           ("reason", "reason"), ("note", "note"), ("location", "location"), ("to_location", "to location"))


class AuditPages(Controller):
    path = "/audit"
    opt = {"role": Role.MANAGER}
    include_in_schema = False

    @get("/")
    async def index(self, db: NamedDependency[Database], display: NamedDependency[Display]) -> Template:
        async with db.read_only() as conn:
            entries = await audit.latest(conn, SHOWN)
        return page("audit.html", section="audit", rows=[entry_view(e, display) for e in entries])


def entry_view(entry: dict[str, Any], shown: Display) -> dict[str, Any]:
    """An audit entry as the page lists it: `row`, the transaction as it was ("Sale of 3 × TEA at 4.50
    on …"); `changes`, for an edit, (field, before, after) of each entered field it changed."""
    before = json.loads(entry["before"])
    after = json.loads(entry["after"]) if entry["after"] else None
    changes = []
    if after is not None:
        for key, label in ENTERED:
            if before.get(key) != after.get(key):
                changes.append((label, _value(key, before.get(key), shown), _value(key, after.get(key), shown)))
    return {**entry, "row": _row(before, shown), "changes": changes}


def _row(tx: dict[str, Any], shown: Display) -> str:
    """'Purchase of 3 × TEA at 4.50 on Dec 1, 2026 10:00' ('… from MAIN to SHOP' for a transfer)."""
    said = f"{NOUNS.get(tx['type'], tx['type']).capitalize()} of {shown.units(tx['quantity'])} × {tx['sku']}"
    if tx.get("unit_price") is not None:
        said += f" at {shown.exact(tx['unit_price'])}"
    if tx.get("to_location"):
        said += f" from {tx.get('location')} to {tx['to_location']}"
    return f"{said} on {shown.moment(tx['at'])}"


def _value(key: str, value: Any, shown: Display) -> str:
    if value is None or value == "":
        return "—"
    if key == "unit_price":
        return shown.exact(value)
    if key == "quantity":
        return shown.units(value)
    if key == "at":
        return shown.moment(value)
    return str(value)
