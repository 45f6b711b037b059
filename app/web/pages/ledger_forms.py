"""Transaction forms as the pages send them, turned into the API's raw fields."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

FIELDS = ("type", "quantity", "unit_price", "reason", "note")


def local_input(moment: datetime | None, zone: tzinfo) -> str:
    """A value for <input type=datetime-local>, in the business time zone."""
    return "" if moment is None else moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M:%S")


def _fields(form: dict[str, Any]) -> dict[str, Any]:
    """The form's fields; Reason only with ADJUST, Unit price only with a type that takes one. The
    forms show Reason for ADJUST alone and no Unit price for COUNT or TRANSFER, so a value left in the
    hidden field after switching types (a SELL edited into a COUNT keeps its price there) was never
    meant; nor was a price beside a write-off (an ADJUST that takes stock away is valued at cost)."""
    raw: dict[str, Any] = {k: form.get(k) or None for k in FIELDS}
    kind = str(raw["type"] or "").strip().upper()
    if kind != "ADJUST":
        raw["reason"] = None
    takes_away = kind == "ADJUST" and str(raw["quantity"] or "").strip().startswith("-")
    if kind in ("COUNT", "TRANSFER") or takes_away:
        raw["unit_price"] = None
    return raw


def _places(form: dict[str, Any], kind: Any) -> dict[str, str]:
    """The Location (and a TRANSFER's To) the form names. Named only when the form has the field, as
    it has while several locations exist: a form without one keeps the product's default (a new row)
    or the row's own location (an edit). A To left over from a TRANSFER is not sent with another type."""
    named = {k: str(form[k]).strip() for k in ("location", "to_location") if str(form.get(k) or "").strip()}
    if str(kind or "").strip().upper() != "TRANSFER":
        named.pop("to_location", None)
    return named


def _as_datetime(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return None


def date_changed(form: dict[str, Any]) -> bool:
    """Whether the Date field says something else than the form proposed (`at_default`). The same
    moment written another way is no change: Chromium sends "09:00" for a proposed "09:00:00"."""
    at, proposed = form.get("at"), form.get("at_default")
    if not at or at == proposed:
        return False
    return _as_datetime(at) is None or _as_datetime(at) != _as_datetime(proposed)


def raw_transaction(form: dict[str, Any], *, sku: str | None = None) -> dict[str, Any]:
    """A new transaction. A Date left as the form proposed it means "now", stamped at commit."""
    raw = _fields(form)
    raw["sku"] = sku or (form.get("sku") or "").strip() or None
    raw |= _places(form, raw["type"])
    if date_changed(form):
        raw["at"] = form["at"]
    return raw


def raw_patch(form: dict[str, Any]) -> dict[str, Any]:
    """An edit: every field the form shows, and the time only when it was changed."""
    patch = _fields(form)
    if form.get("sku"):
        patch["sku"] = form["sku"].strip()
    patch |= _places(form, patch["type"])
    if date_changed(form):
        patch["at"] = form["at"]
    return patch
