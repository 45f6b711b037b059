"""Transaction forms as the pages send them, turned into the API's raw fields."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

FIELDS = ("type", "quantity", "unit_price", "reason", "note")


def local_input(moment: datetime | None, zone: tzinfo) -> str:
    """A value for <input type=datetime-local>, in the business time zone."""
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def raw_transaction(form: dict[str, Any], *, sku: str | None = None) -> dict[str, Any]:
    """A new transaction. A Date left as the form proposed it means "now", stamped at commit."""
    raw: dict[str, Any] = {k: form.get(k) or None for k in FIELDS}
    raw["sku"] = sku or (form.get("sku") or "").strip() or None
    if form.get("at") and form.get("at") != form.get("at_default"):
        raw["at"] = form["at"]
    return raw


def raw_patch(form: dict[str, Any]) -> dict[str, Any]:
    """An edit: every field the form shows, and the time only when it was changed."""
    patch: dict[str, Any] = {k: form.get(k) or None for k in FIELDS}
    if form.get("sku"):
        patch["sku"] = form["sku"].strip()
    if form.get("at") and form.get("at") != form.get("at_default"):
        patch["at"] = form["at"]
    return patch
