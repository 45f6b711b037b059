"""Stock reports: each is one query (or two), never a query per product."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.errors import NotFound
from app.domain.money import ZERO_MONEY
from app.domain.summary import inventory_value, status
from app.persistence import reports as rows
from app.persistence import reports_by_location as here_rows
from app.persistence.database import Database
from app.persistence.records import ProductRecord
from app.persistence.reports_by_location import Here
from app.services.locations import location_named
from app.services.min_stock import MinStocks
from app.services.selfcheck import SelfCheck
from app.services.until_change import UntilChange

# How a product is shown (the web layer's product_view, handed in by create_app).
ProductView = Callable[[ProductRecord], dict[str, Any]]
MONEY_FIELDS = ("revenue", "cogs", "realized_pl", "write_off", "gain")


def totals_of_products(items: list[ProductRecord]) -> dict[str, Any]:
    """Sums of per-product figures; inventory value as the sum of each product's rounded value."""
    on_hand = sum(p.position.stock for p in items)
    reserved = sum(p.reserved for p in items)
    money = {f: sum((getattr(p.totals, f) for p in items), ZERO_MONEY) for f in MONEY_FIELDS}
    value = sum((inventory_value(p.position.stock, p.position.average_cost) for p in items), ZERO_MONEY)
    return {
        "products": len(items),
        "on_hand": on_hand,
        "reserved": reserved,
        "available": on_hand - reserved,
        "inventory_value": str(value),
        **{f: str(v) for f, v in money.items()},
    }


def _summed(row: dict[str, Any]) -> dict[str, Any]:
    """An aggregate's row as totals_of_products answers (money as strings), with the status counts."""
    return {
        "products": row["products"],
        "on_hand": row["on_hand"],
        "reserved": row["reserved"],
        "available": row["on_hand"] - row["reserved"],
        "inventory_value": str(row["inventory_value"]),
        **{f: str(row[f]) for f in MONEY_FIELDS},
        "by_status": {s: row[f"status_{s}"] for s in ("ok", "low", "out")},
    }


LISTS = ("low-stock", "out-of-stock", "overstock", "needs-count", "valuation", "replenishment")  # paged reports
PER_PAGE = 500  # products a listing report answers at a time unless asked for another page size (issue 13)
VALUATION_PARTS = 2  # a valuation's sums are read in this many parts at once (the 2-core machine of issue 13)


def _where(total: int, page: int, per: int) -> dict[str, int]:
    return {"total": total, "page": page, "per": per, "pages": max(1, -(-total // per))}


def _category_view(group: dict[str, Any]) -> dict[str, Any]:
    return {"category": group["category"], "products": group["products"], "on_hand": group["on_hand"],
            "inventory_value": str(group["inventory_value"])}  # fmt: skip


REPORTS = ("summary", "low-stock", "out-of-stock", "overstock", "needs-count", "movers", "by-category", "by-brand",
           "anomalies", "valuation", "replenishment")  # fmt: skip
# A valuation's sums are kept by its moment and location (None: every location).
ValuationKey = tuple[datetime, str | None]


def at_location_view(p: ProductRecord, here: Here) -> dict[str, Any]:
    """A product's figures at one location: its stock there, what reservations naming the location
    hold there, their value at the product's average cost (cost is per product), the stock status
    there by the product's threshold, and the location's min_stock for it."""
    available = here.on_hand - here.reserved
    return {
        "location": here.location, "on_hand": here.on_hand, "reserved": here.reserved, "available": available,
        "inventory_value": str(inventory_value(here.on_hand, p.position.average_cost)),
        "status": status(available, p.low_stock_threshold).value, "min_stock": here.min_stock,
    }  # fmt: skip


def sources_for(short: here_rows.Short, storage: set[str]) -> list[dict[str, Any]]:
    """Where the units a location lacks could come from: the other storage locations whose stock,
    less what is held there and their own min_stock, leaves some to spare; the most spare first."""
    found = []
    for code, on_hand in short.stocks.items():
        if code == short.location or code not in storage:
            continue
        reserved, keep = short.held.get(code, 0), short.min_stocks.get(code, 0)
        spare = on_hand - reserved - keep
        if spare > 0:
            found.append({"location": code, "on_hand": on_hand, "reserved": reserved,
                          "min_stock": short.min_stocks.get(code), "spare": spare})  # fmt: skip
    return sorted(found, key=lambda x: (-x["spare"], x["location"]))


class ReportService:
    """The reports, on one Database; each product in them as `view` shows it."""

    def __init__(
        self, db: Database, view: ProductView, valuations: UntilChange[ValuationKey, rows.ValuedSums] | None = None
    ) -> None:
        self.db = db
        self.view = view
        self.selfcheck = SelfCheck(db)
        self.min_stocks = MinStocks(db)  # the locations' replenishment hints, which `replenishment` reads
        # A valuation's sums and marks by `at`, kept until a change: every page of it reads them.
        self.valuations = valuations

    async def summary(self) -> dict[str, Any]:
        """Every product's figures added up (one SQL aggregate), and how many are ok, low and out."""
        async with self.db.read_only() as conn:
            (row,) = await rows.sums(conn)
        return _summed(row)

    async def by_status(self, wanted: str) -> list[dict[str, Any]]:
        records, row = await self._listed("low-stock" if wanted == "low" else "out-of-stock", datetime.now(UTC))
        return [row(p) for p in records]

    async def overstock(self) -> list[dict[str, Any]]:
        records, row = await self._listed("overstock", datetime.now(UTC))
        return [row(p) for p in records]

    async def needs_count(self, now: datetime) -> list[dict[str, Any]]:
        """Never counted, or last counted longer ago than the product's interval."""
        records, row = await self._listed("needs-count", now)
        return [row(p) for p in records]

    async def _listed(
        self, name: str, now: datetime
    ) -> tuple[list[ProductRecord], Callable[[ProductRecord], dict[str, Any]]]:
        """A listing report's products, and how each is shown: a page is shown, not the whole list."""
        async with self.db.read_only() as conn:
            if name in ("low-stock", "out-of-stock"):
                return await rows.with_status(conn, "low" if name == "low-stock" else "out"), self.view
            if name == "overstock":
                return await rows.overstocked(conn), lambda p: {
                    **self.view(p), "excess": p.position.stock - (p.overstock_threshold or 0)}  # fmt: skip
            return await rows.due_for_count(conn, now), lambda p: {
                **self.view(p),
                "days_since_count": None if p.last_counted_at is None else (now - p.last_counted_at).days,
            }  # fmt: skip

    async def movers(self, now: datetime, days: int, fast: bool, limit: int) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            sold = await rows.movers(conn, now - timedelta(days=days), fast, limit)
        return [{**self.view(p), "units_sold": units, "days": days} for p, units in sold]

    async def damaged(self, now: datetime, days: int) -> list[dict[str, Any]]:
        """Products with units written off as damaged in the last `days` days (GraphQL's
        inventoriesWithDamage), with those units."""
        async with self.db.read_only() as conn:
            found = await rows.damaged_since(conn, now - timedelta(days=days))
        return [{**self.view(p), "damaged_units": units, "days": days} for p, units in found]

    async def grouped(self, field: str) -> list[dict[str, Any]]:
        """Totals per category or per brand (products without one are grouped as null)."""
        async with self.db.read_only() as conn:
            found = await rows.sums(conn, field)
        return [{field: row["key"], **{k: v for k, v in _summed(row).items() if k != "by_status"}} for row in found]

    async def valuation(
        self, at: datetime, page: int = 1, per: int = PER_PAGE, location: str | None = None
    ) -> dict[str, Any]:
        """Stock, average cost and value of every product that had any history at `at` (a page of them),
        with totals and totals per category (a month's closing figures: `at` the month's last moment).
        The sums read every product (one index probe each); they are kept per `at` until a change, and
        mark every 100th product, so that any page, however deep, reads about its own products alone.
        At a `location`: the stock there then (of the products with rows there by then), valued at the
        product's average cost then."""
        key = (at, location)
        if self.valuations is None:
            sums = (await self._valued_sums(at, location))[0]
        else:
            sums = await self.valuations.get(key, lambda: self._valued_sums(at, location))
        async with self.db.read_only() as conn:
            if location is None:
                valued = await rows.valued_at(conn, at, per, (page - 1) * per, sums.marks)
            else:
                valued = await here_rows.valued_at(conn, at, location, per, (page - 1) * per, sums.marks)
        totals, by_category = sums.totals, sums.by_category
        items: list[dict[str, Any]] = [
            {"sku": v.sku, "name": v.name, "category": v.category, "brand": v.brand,
             "on_hand": v.on_hand, "average_cost": str(v.average_cost),
             "inventory_value": str(inventory_value(v.on_hand, v.average_cost)),
             "last_transaction_at": v.last_transaction_at.isoformat()}
            for v in valued
        ]  # fmt: skip
        return {
            "at": at.isoformat(),
            **({"location": location} if location else {}),
            "items": items,
            "totals": {**totals, "inventory_value": str(totals["inventory_value"])},
            "by_category": [_category_view(g) for g in by_category],
            **_where(totals["products"], page, per),
        }

    async def _valued_sums(self, at: datetime, location: str | None) -> tuple[rows.ValuedSums, float]:
        """The sums of a past moment read in VALUATION_PARTS ranges of SKUs at once, each on a pooled
        connection of its own (one index probe per product: ~0.5 s for 50,000 products in one statement,
        issue 13); of the present in one (every product's own row: no probe to share out)."""
        count = VALUATION_PARTS if at < datetime.now(UTC) else 1
        async with self.db.read_only() as conn:
            cuts: list[str | None] = [None, *await rows.splits(conn, count), None]
        parts = await asyncio.gather(
            *(self._valued_part(at, location, first, past) for first, past in itertools.pairwise(cuts))
        )
        return rows.combined(parts), float("inf")  # time alone changes nothing of a valuation

    async def _valued_part(
        self, at: datetime, location: str | None, first: str | None, past: str | None
    ) -> rows.ValuedSums:
        async with self.db.read_only() as conn:
            if location is None:
                return await rows.valued_sums(conn, at, first, past)
            return await here_rows.valued_sums(conn, at, location, first, past)

    async def check_location(self, code: str) -> None:
        """400 naming `location` when no location has this code."""
        async with self.db.read_only() as conn:
            await location_named(conn, "location", code)

    async def replenishment(self, location: str | None, page: int = 1, per: int = PER_PAGE) -> dict[str, Any]:
        """Every (product, location) whose stock there is below the location's min_stock for it (at
        `location` alone, if given), by location then SKU, a page of them: the shortfall, and where
        it could come from (sources_for)."""
        async with self.db.read_only() as conn:
            found, total = await here_rows.short(conn, location, per, (page - 1) * per)
            storage = await here_rows.storage_codes(conn) if found else set()
        items = []
        for x in found:
            sources = sources_for(x, storage)
            items.append({"sku": x.sku, "name": x.name, "location": x.location, "on_hand": x.on_hand,
                          "min_stock": x.min_stock, "shortfall": x.min_stock - x.on_hand,
                          "could_send": min(x.min_stock - x.on_hand, sum(s["spare"] for s in sources)),
                          "sources": sources})  # fmt: skip
        return {"items": items, **({"location": location} if location else {}), **_where(total, page, per)}

    async def at_location(
        self, code: str, name: str, now: datetime, *, days: int, fast: bool, limit: int, page: int, per: int
    ) -> dict[str, Any]:
        """A report (but the valuation and replenishment) with the figures at one location, of the
        products it keeps."""
        if name in here_rows.LISTED:
            async with self.db.read_only() as conn:
                found, total = await here_rows.listed(conn, code, name, now, per, (page - 1) * per)
            items = [self._here_row(name, p, here, now) for p, here in found]
            return {"location": code, "items": items, **_where(total, page, per)}
        if name == "summary":
            async with self.db.read_only() as conn:
                (row,) = await here_rows.sums(conn, code)
            return {**_summed(row), "location": code}
        if name == "movers":
            async with self.db.read_only() as conn:
                sold = await here_rows.movers(conn, code, now - timedelta(days=days), fast, limit)
            return {"location": code, "items": [
                {**self.view(p), "at_location": at_location_view(p, here), "units_sold": units, "days": days}
                for p, here, units in sold]}  # fmt: skip
        if name in ("by-category", "by-brand"):
            field = name.removeprefix("by-")
            async with self.db.read_only() as conn:
                found_sums = await here_rows.sums(conn, code, field)
            return {"location": code, "items": [
                {field: row["key"], **{k: v for k, v in _summed(row).items() if k != "by_status"}}
                for row in found_sums]}  # fmt: skip
        if name == "anomalies":
            return await self.anomalies_at(code)
        raise NotFound(f"No report named {name!r}; reports: {', '.join(REPORTS)}", {"reports": list(REPORTS)})

    async def anomalies_at(self, code: str, sku: str | None = None) -> dict[str, Any]:
        """The self-check's findings about the products the location keeps."""
        found = await self.selfcheck.report(sku)
        async with self.db.read_only() as conn:
            kept = await here_rows.kept_skus(conn, code, [i["sku"] for i in found["items"]])
        return {**found, "items": [i for i in found["items"] if i["sku"] in kept]}

    def _here_row(self, name: str, p: ProductRecord, here: Here, now: datetime) -> dict[str, Any]:
        row = {**self.view(p), "at_location": at_location_view(p, here)}
        if name == "overstock":
            row["excess"] = here.on_hand - (p.overstock_threshold or 0)
        elif name == "needs-count":
            row["at_location"]["last_counted_at"] = None if here.counted_at is None else here.counted_at.isoformat()
            row["days_since_count"] = None if here.counted_at is None else (now - here.counted_at).days
        return row

    async def build(
        self, name: str, now: datetime, *, days: int = 30, fast: bool = True, limit: int = 20,
        at: datetime | None = None, page: int = 1, per: int = PER_PAGE, location: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """A report by name: one object for `summary`, `{"items": [...]}` for the others. A report that
        lists products (LISTS) answers `page` of `per` items, with `total`, `page`, `per` and `pages`.
        With a `location` (400 naming it if unknown): the figures at that location, and `location`."""
        start = (page - 1) * per
        if location is not None:
            await self.check_location(location)
        if name == "valuation":
            return await self.valuation(at or now, page, per, location)
        if name == "replenishment":
            return await self.replenishment(location, page, per)
        if location is not None:
            return await self.at_location(location, name, now, days=days, fast=fast, limit=limit, page=page, per=per)
        if name == "summary":
            return await self.summary()
        if name in ("low-stock", "out-of-stock", "overstock", "needs-count"):
            records, row = await self._listed(name, now)
            return {"items": [row(p) for p in records[start : start + per]], **_where(len(records), page, per)}
        if name == "movers":
            return {"items": await self.movers(now, days, fast, limit)}
        if name in ("by-category", "by-brand"):
            return {"items": await self.grouped(name.removeprefix("by-"))}
        if name == "anomalies":  # what the last full check found (a full check runs in the background)
            return await self.selfcheck.report()
        raise NotFound(f"No report named {name!r}; reports: {', '.join(REPORTS)}", {"reports": list(REPORTS)})
