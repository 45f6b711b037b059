"""The API's JSON views of records and outcomes: decimals as strings, times in ISO 8601. Pages show
the same views (their templates read these keys), and so does the live event stream."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from app.domain.errors import DomainError
from app.domain.reservations import Status as HoldStatus
from app.domain.rules import MAIN
from app.domain.summary import Status, inventory_value, status
from app.persistence.audit_document import iso, transaction_document
from app.persistence.locations import LocationRecord
from app.services.outcomes import Change, Confirmed, Voided
from app.services.records import ProductRecord, ReservationRecord

CENT = Decimal("0.01")


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _price(value: Decimal | None) -> str | None:
    """A price as entered, to at least 2 places: "6.95", not the stored "6.9500"."""
    if value is None:
        return None
    cents = value.quantize(CENT)
    return str(cents if value == cents else value.normalize())


def _t(value: datetime | None) -> str | None:
    return None if value is None else iso(value)


# The API's transaction is the document the audit log keeps of a row: one shape, written once.
transaction_view = transaction_document


def product_view(p: ProductRecord) -> dict[str, Any]:
    """Every sale's answer carries one: figures never None are written with str() directly."""
    position, t = p.position, p.totals
    available = position.stock - p.reserved
    value = str(inventory_value(position.stock, position.average_cost))
    return {
        "sku": p.sku,
        "name": p.name,
        "category": p.category,
        "brand": p.brand,
        "low_stock_threshold": p.low_stock_threshold,
        "overstock_threshold": p.overstock_threshold,
        "count_interval_days": p.count_interval_days,
        "barcode": p.barcode,
        "sell_price": _price(p.sell_price),
        "on_hand": position.stock,
        "reserved": p.reserved,
        "available": available,
        "average_cost": str(position.average_cost),
        "inventory_value": value,
        "revenue": str(t.revenue),
        "cogs": str(t.cogs),
        "realized_pl": str(t.realized_pl),
        "write_off": str(t.write_off),
        "gain": str(t.gain),
        "units_in": t.units_in,
        "units_out": t.units_out,
        "damaged": t.damaged,
        "last_counted_at": _t(p.last_counted_at),
        "last_sale_at": _t(p.last_sale_at),
        "transaction_count": p.tx_count,
        "status": _STATUS_NAMES[status(available, p.low_stock_threshold)],
        "default_location": p.default_location,
        "locations": location_stocks(p, value),
    }


_STATUS_NAMES = {named: named.value for named in Status}  # an enum's `.value` is a property lookup


def location_stocks(p: ProductRecord, value: str | None = None) -> list[dict[str, Any]]:
    """The product's stock at each location its ledger has used (MAIN first), with what reservations
    naming the location hold there, and its value there at the product's average cost (`value`: the
    whole product's, already worked out, which is MAIN's when it is the only place)."""
    cost = p.position.average_cost
    if not p.held and len(p.stocks) <= 1:  # one place (every product that never moved): nothing to sort
        return [{"location": c, "on_hand": units, "reserved": 0, "available": units,
                 "inventory_value": value if value is not None else _d(inventory_value(units, cost))}
                for c, units in p.stocks.items()]  # fmt: skip
    codes = sorted({*p.stocks, *p.held}, key=lambda c: (c != MAIN, c))
    rows = []
    for code in codes:
        on_hand, held = p.stocks.get(code, 0), p.held.get(code, 0)
        rows.append({"location": code, "on_hand": on_hand, "reserved": held, "available": on_hand - held,
                     "inventory_value": _d(inventory_value(on_hand, cost))})  # fmt: skip
    return rows


def voided_view(voided: Voided) -> dict[str, Any]:
    """The answer to a void: the transaction as it was, and its product now."""
    return {"voided": transaction_view(voided.row), "product": product_view(voided.change.product.after)}


def committed_view(change: Change) -> dict[str, Any]:
    """The API's answer to a recorded (or edited) transaction: the row and its product after it."""
    assert change.row is not None
    view = transaction_view(change.row)  # a dict of its own
    view["product"] = product_view(change.product.after)
    return view


def error_view(status: int, exc: DomainError) -> dict[str, Any]:
    return {"status_code": status, "detail": exc.detail, "extra": exc.extra}


def location_view(x: LocationRecord) -> dict[str, Any]:
    return {"code": x.code, "name": x.name, "kind": x.kind.value, "created_at": x.created_at.isoformat()}


def reservation_view(r: ReservationRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "sku": r.sku,
        "order_ref": r.order_ref,
        "quantity": r.quantity,
        "status": _HOLD_STATUS_NAMES[r.status],
        "created_at": _t(r.created_at),
        "expires_at": _t(r.expires_at),
        "ended_at": _t(r.ended_at),
        "unit_price": _d(r.unit_price),
        "transaction_id": r.transaction_id,
        "location": r.location,
    }


_HOLD_STATUS_NAMES = {named: named.value for named in HoldStatus}


def confirmed_view(confirmed: Confirmed) -> dict[str, Any]:
    """`transaction`: the sale (the first, when the confirm took stock from several locations);
    `transactions`: every sale it recorded, one per location, in timeline order."""
    sales = [transaction_view(s) for s in confirmed.sales]  # each made once: `transaction` is the first
    return {"reservation": reservation_view(confirmed.reservation),
            "transaction": sales[0] if confirmed.sale else None, "transactions": sales}  # fmt: skip
