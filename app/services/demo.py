"""`inventory demo`: a few products with a realistic year of purchases, sales, adjustments and counts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.errors import Conflict
from app.domain.inputs import TransactionInput
from app.domain.reservations import ReservationInput
from app.domain.rules import Reason, TxType
from app.persistence.database import Database
from app.persistence.migrations import migrate
from app.services.ledger import LedgerService
from app.services.locks import ProductLocks
from app.services.products import ProductService
from app.services.reservations import ReservationService
from app.settings import Settings

CATALOGUE = [
    ("COF-ESP-1KG", "Espresso beans 1 kg", "Coffee", "Roastery", Decimal("14.20"), Decimal("24.90"), 20),
    ("COF-FLT-250", "Filter coffee 250 g", "Coffee", "Roastery", Decimal("4.10"), Decimal("8.50"), 30),
    ("TEA-GRN-100", "Green tea, 100 bags", "Tea", "Leaf & Co", Decimal("3.35"), Decimal("6.95"), 15),
    ("MUG-CER-WHT", "Ceramic mug, white", "Homeware", "Kiln", Decimal("2.80"), Decimal("9.00"), 10),
    ("GRD-BURR-01", "Burr grinder", "Equipment", "Mahl", Decimal("61.00"), Decimal("119.00"), 3),
    ("FLT-PAPER-100", "Paper filters ×100", "Accessories", "Leaf & Co", Decimal("0.95"), Decimal("2.49"), 25),
]


async def load_demo(settings: Settings, seed: int = 7) -> str:
    db = Database.from_settings(settings, pool_size=4)
    await migrate(db.url)
    async with db.opened():
        ledger = LedgerService(ProductLocks(), settings.timezone, db=db)
        products = ProductService(db)
        rng = random.Random(seed)
        count = 0
        for sku, name, category, brand, cost, price, low in CATALOGUE:
            try:
                await products.create({"sku": sku, "name": name, "category": category, "brand": brand,
                                       "low_stock_threshold": low})  # fmt: skip
            except Conflict:
                continue  # already loaded
            count += await _year_of(ledger, rng, sku, cost, price, low)
        if count:
            await _make_every_report_show_something(ledger, products)
        return f"demo loaded: {count} transactions"


async def _make_every_report_show_something(ledger: LedgerService, products: ProductService) -> None:
    """Open orders, an overstocked line, a sold-out one and one overdue for a count."""
    reservations = ReservationService(ledger.locks, ledger, ledger.clock)
    for sku, quantity, order in [("COF-ESP-1KG", 2, "web-1001"), ("TEA-GRN-100", 3, "web-1002"),
                                 ("MUG-CER-WHT", 1, "shop-77")]:  # fmt: skip
        product = await products.get(sku)
        if product.position.stock - product.reserved >= quantity:
            await reservations.reserve(ReservationInput(sku, quantity, order, ttl_seconds=7 * 24 * 3600))
    await products.update("COF-FLT-250", {"overstock_threshold": 20})
    await products.update("GRD-BURR-01", {"count_interval_days": 7})
    paper = await products.get("FLT-PAPER-100")
    if paper.position.stock:
        await ledger.record(TransactionInput("FLT-PAPER-100", TxType.SELL, paper.position.stock, None,
                                             Decimal("2.49"), note="bulk order"))  # fmt: skip


async def _year_of(ledger: LedgerService, rng: random.Random, sku: str, cost: Decimal, price: Decimal, low: int) -> int:
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=366)
    stock, written = 0, 0
    for _ in range(365):
        day += timedelta(days=1)
        entries: list[TransactionInput] = []
        if stock <= low * 2:
            unit_cost = (cost * rng.randint(90, 115) / 100).quantize(Decimal("0.01"))
            entries.append(TransactionInput(sku, TxType.BUY, low * 6, day, unit_cost))
            stock += low * 6
        for hour in sorted(rng.sample(range(10, 18), rng.randint(0, 3))):
            q = min(stock, rng.randint(1, max(1, low // 3)))
            if q:
                entries.append(TransactionInput(sku, TxType.SELL, q, day.replace(hour=hour), price))
                stock -= q
        if rng.random() < 0.02 and stock:
            entries.append(
                TransactionInput(sku, TxType.ADJUST, -1, day.replace(hour=19), None, Reason.DAMAGE, "dropped")
            )
            stock -= 1
        if day.day == 1:
            entries.append(TransactionInput(sku, TxType.COUNT, stock, day.replace(hour=20)))
        for entry in entries:
            await ledger.record(entry)
            written += 1
    return written
