from __future__ import annotations

import random
import uuid
from typing import Any

import httpx


def new_sku(prefix: str = "T") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def make_product(api: httpx.AsyncClient, **fields: Any) -> str:
    sku = fields.pop("sku", None) or new_sku()
    r = await api.post("/api/products", json={"sku": sku, "name": f"Product {sku}", **fields})
    assert r.status_code == 201, r.text
    return sku


async def every_product(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The whole catalogue, page by page (the list answers at most 5,000 a page)."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        r = await api.get("/api/products", params={"limit": 5000, **({"after": after} if after else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        if (after := r.json()["next"]) is None:
            return items


async def product_with_buys(api: httpx.AsyncClient, rows: int) -> str:
    """A new product with `rows` BUYs of 1 at 1.00, imported in one CSV (fast, for a long ledger)."""
    sku = await make_product(api)
    lines = "".join(f"{sku}-{i},{sku},BUY,1,1.00,2025-01-01T00:00:00+00:00\n" for i in range(rows))
    r = await api.post("/api/import", content=b"external_id,sku,type,quantity,unit_price,at\n" + lines.encode())
    assert r.status_code == 201, r.text
    return sku


async def record(
    api: httpx.AsyncClient,
    sku: str,
    type_: str,
    quantity: int,
    price: str | None = None,
    at: str | None = None,
    expect: int = 201,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"sku": sku, "type": type_, "quantity": quantity, **extra}
    if price is not None:
        body["unit_price"] = price
    if at is not None:
        body["at"] = at
    r = await api.post("/api/transactions", json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def hold_units(api: httpx.AsyncClient, sku: str, count: int, order_prefix: str) -> list[int]:
    """`count` holds of one unit each, for orders `{order_prefix}{n}`, one after another; their ids."""
    ids = []
    for n in range(count):
        r = await api.post("/api/reservations", json={"sku": sku, "quantity": 1, "order_ref": f"{order_prefix}{n}"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids


async def summary(api: httpx.AsyncClient, sku: str) -> dict[str, Any]:
    r = await api.get(f"/api/products/{sku}")
    assert r.status_code == 200, r.text
    return r.json()


async def timeline(api: httpx.AsyncClient, sku: str) -> list[dict[str, Any]]:
    r = await api.get(f"/api/products/{sku}/transactions", params={"limit": 5000})
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def anomalies(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    """A full self-check, run now and awaited (a manager's call); what it found."""
    r = await api.post("/api/reports/anomalies", params={"wait": "true"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def check_digit(body: str) -> str:
    """GS1 mod-10: weights 3, 1, 3 … from the digit next to the check digit."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin(length: int) -> str:
    """A fresh valid code of `length` digits (13 EAN-13, 12 UPC-A, 8 EAN-8), never starting with 0."""
    body = str(random.randint(1, 9)) + "".join(random.choice("0123456789") for _ in range(length - 2))
    return body + check_digit(body)
