"""`inventory demo`: a few products with a realistic year of purchases, sales, adjustments and counts;
`inventory demo --products N`: a catalogue of N products with a year of history each (issue 13)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.domain.commands import ReservationInput, TransactionInput
from app.domain.errors import Conflict
from app.domain.immutable import immutable
from app.domain.rules import Reason, TxType
from app.persistence.database import Database
from app.persistence.migrations import migrate
from app.services import catalogue_csv
from app.services.ledger import LedgerService
from app.services.products import ProductService
from app.services.reservations import ReservationService
from app.services.wiring import ledger_service
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
        ledger = ledger_service(db, settings)
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


# --- a catalogue at scale -------------------------------------------------------------------------

BATCH_PRODUCTS = 1_000  # products generated, checked and imported at a time: memory stays flat
CATEGORIES = (
    "Coffee Tea Homeware Equipment Accessories Snacks Syrups Cups Cleaning Milk Chocolate Gifts Books "
    "Water Juice Bakery Paper Spices Sugar Kits"
).split()
BRANDS = [f"Brand {chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(50)]
HEADER = (
    "external_id,sku,product_name,category,brand,low_stock_threshold,overstock_threshold,"
    "type,quantity,unit_price,at,reason,note\n"
)


@immutable
class CatalogueProgress:
    products_done: int
    products: int
    rows_done: int
    seconds: float


def catalogue_lines(first: int, count: int, rows_per_product: int, start: datetime, seed: int) -> Iterator[str]:
    """CSV lines (the import's format) of products first..first+count-1: each opened by a BUY naming
    it, then a year of sales, restocks, now and then a damaged unit, and a count at the first row of
    each month (every sixth row when rows are sparse), spread evenly over the year. Deterministic per
    product, so a re-run makes the same rows (their external ids are in already: skipped)."""
    yield HEADER
    step = timedelta(days=365) / max(1, rows_per_product)
    for number in range(first, first + count):
        rng = random.Random(seed * 1_000_003 + number)
        sku = f"DEMO-{number:06d}"
        cost = Decimal(rng.randint(50, 20_000)) / 100
        price = (cost * Decimal(rng.randint(130, 250)) / 100).quantize(Decimal("0.01"))
        low = rng.randint(2, 30)
        at = start + timedelta(minutes=number % 1_440)
        stock = low * 10
        over = low * 3 if number % 9 == 0 else ""  # some products have too much (overstock)
        yield (f"demo-{number}-0,{sku},Demo product {number},{CATEGORIES[number % len(CATEGORIES)]},"
               f"{BRANDS[number % len(BRANDS)]},{low},{over},BUY,{stock},{cost},{at.isoformat()},,\n")  # fmt: skip
        month = at.month
        running_down = number % 8 == 0  # restocked no more after 70 % of the year: low or out of stock at the end
        for k in range(1, rows_per_product):
            at += step
            head = f"demo-{number}-{k},{sku},,,,,,"
            new_month, month = at.month != month, at.month
            if (new_month if step < timedelta(days=10) else k % 6 == 5) or stock == 0:  # a count, monthly
                yield f"{head}COUNT,{stock},,{at.isoformat()},,monthly count\n"
            elif stock <= low * 2 and not (running_down and k > rows_per_product * 0.7):
                bought = low * rng.randint(4, 8)
                unit = (cost * rng.randint(90, 115) / 100).quantize(Decimal("0.01"))
                stock += bought
                yield f"{head}BUY,{bought},{unit},{at.isoformat()},,\n"
            elif rng.random() < 0.02:
                stock -= 1
                yield f"{head}ADJUST,-1,,{at.isoformat()},damage,dropped\n"
            else:
                sold = rng.randint(1, max(1, min(stock, low)))
                stock -= sold
                yield f"{head}SELL,{sold},{price},{at.isoformat()},,\n"


async def load_catalogue(
    settings: Settings,
    products: int,
    rows_per_product: int = 100,
    progress: Callable[[CatalogueProgress], None] | None = None,
    seed: int = 7,
) -> str:
    """A catalogue of `products` products with `rows_per_product` transactions each, imported
    BATCH_PRODUCTS at a time through the CSV import (checked, then committed in parts); a re-run
    imports only what is missing."""
    db = Database.from_settings(settings, pool_size=4)
    await migrate(db.url)
    started = time.perf_counter()
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=366)
    imported = created = done_rows = 0
    async with db.opened():
        ledger = ledger_service(db, settings)
        for first in range(1, products + 1, BATCH_PRODUCTS):
            count = min(BATCH_PRODUCTS, products + 1 - first)
            lines = catalogue_lines(first, count, rows_per_product, start, seed)
            checked = await catalogue_csv.read_rows(lines, ledger)
            result = await catalogue_csv.import_rows(checked, ledger)
            imported += result.imported
            created += result.products_created
            done_rows += checked.transactions
            if progress:
                progress(CatalogueProgress(first + count - 1, products, done_rows, time.perf_counter() - started))
    return (f"catalogue loaded: {created:,} products created, {imported:,} transactions imported "
            f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
