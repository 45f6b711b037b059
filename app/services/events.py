"""Live events across processes: PostgreSQL NOTIFY at commit, one LISTEN connection per process.

Writers call `announce(conn, product_ids)` (app.persistence.events) inside their transaction, so a
rolled-back change sends nothing. Each process listens on a dedicated connection (not a pool one), turns ids into
product summaries with one query, and hands `stock` / `alert` events to its subscribers. If the
listening connection drops, it reconnects and sends every subscriber the full state again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.domain.immutable import immutable
from app.domain.summary import status
from app.persistence import events as rows
from app.persistence.database import UNAVAILABLE, Database
from app.persistence.events import CHANNEL, announce
from app.persistence.records import ProductRecord

__all__ = ["CHANNEL", "Event", "EventHub", "Subscriber", "announce"]
log = logging.getLogger("stockroom.events")


@immutable
class Event:
    kind: str  # "stock" | "alert" | "holds" | "totals"
    sku: str
    data: dict[str, Any]

    def json(self) -> str:
        return json.dumps(self.data)


@dataclass(eq=False)
class Subscriber:
    skus: frozenset[str]  # empty: every product (unless `all_alerts`)
    queue: asyncio.Queue[Event | None] = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))
    # A page's stream: `stock` and `alert` of the products in `skus` (none when empty), and `alert`
    # of every product (the dashboard's alerts panel), never the whole catalogue's `stock`.
    all_alerts: bool = False
    # `holds` of every product: what its reservations hold changed (the reservations page's tables).
    all_holds: bool = False
    # `totals`: one event each time any products changed (the dashboard's totals row and alerts count,
    # which sum products that are not on the page).
    all_totals: bool = False

    @property
    def every_product(self) -> bool:
        return not self.skus and not self.all_alerts and not self.all_holds and not self.all_totals

    def wants(self, sku: str, kind: str = "stock") -> bool:
        if kind == "holds":  # only a stream that asks for them: no other stream ever saw this kind
            return self.all_holds
        if kind == "totals":
            return self.all_totals
        if kind == "alert" and self.all_alerts:
            return True
        return self.every_product or sku in self.skus


RESYNC = Event("resync", "", {})  # in a subscriber's queue: read every product's state again

SummaryLoader = Callable[[list[int]], Awaitable[list[dict[str, Any]]]]
# How a product is shown in an event (the web layer's product_view, handed in by create_app).
ProductView = Callable[[ProductRecord], dict[str, Any]]


class EventHub:
    def __init__(
        self, db: Database, view: ProductView, coalesce_seconds: float = 0.02, load: SummaryLoader | None = None
    ) -> None:
        self.db = db
        self.view = view
        self.coalesce_seconds = coalesce_seconds
        self._load = load or self.load_summaries
        self.subscribers: set[Subscriber] = set()
        self._status: dict[str, str] = {}
        self._reserved: dict[str, int] = {}  # as last published, to tell a `holds` change
        self._pending: set[int] = set()
        self._flusher: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        # Told of every change notice, and when notices may have been missed (dashboard_totals).
        self.on_change: list[Callable[[], None]] = []
        self._echo_channel = f"{CHANNEL}_echo_{uuid.uuid4().hex}"  # heard by this hub alone: caught_up
        self._echoes: dict[str, asyncio.Future[None]] = {}
        self._echoes_sent = 0

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self._connect()
        self._runner = asyncio.create_task(self._keep_listening())

    async def stop(self) -> None:
        if self._runner:
            self._runner.cancel()
        if self._flusher:  # before the pool closes: else it reads from a closed pool and logs that
            self._flusher.cancel()
        if self._conn and not self._conn.is_closed():
            await self._conn.close()
        for s in self.subscribers:
            s.queue.put_nowait(None)

    async def _connect(self) -> None:
        conn = await asyncpg.connect(self.db.url, server_settings={"application_name": "stockroom-listener"})
        conn.add_termination_listener(lambda _: self._on_lost())
        await conn.add_listener(CHANNEL, self._on_notify)
        await conn.add_listener(self._echo_channel, self._on_echo)
        self._conn = conn
        self._changed()  # notices committed while nobody listened were not heard
        await self._resync()

    def _on_lost(self) -> None:
        self._lost.set()
        self._changed()

    async def _keep_listening(self) -> None:
        while True:
            await self._lost.wait()
            self._lost.clear()
            log.warning("listening connection lost; reconnecting")
            delay = 0.1
            while True:
                try:
                    await self._connect()
                    break
                except (OSError, asyncpg.PostgresError):
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5)

    async def _load_statuses(self, product_ids: list[int]) -> list[tuple[str, int, int]]:
        async with self.db.read_only() as conn:
            return await rows.statuses_by_ids(conn, product_ids)

    async def load_summaries(self, product_ids: list[int]) -> list[dict[str, Any]]:
        async with self.db.read_only() as conn:
            products = await rows.by_ids(conn, product_ids)
        return [self.view(p) for p in products]

    # --- notifications ------------------------------------------------------------------------

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._changed()
        self._pending.update(rows.changed_ids(payload))
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    def _changed(self) -> None:
        for told in self.on_change:
            told()

    async def caught_up(self, within: float = 1.0) -> bool:
        """Whether every change notice committed before this call has been heard (and `on_change`
        told): a notice sent now on a channel only this hub listens to comes back after them, since
        PostgreSQL delivers notices in the order their transactions committed. False when the
        listener is not connected or the echo takes longer than `within` seconds."""
        if self._conn is None or self._conn.is_closed() or self._lost.is_set():
            return False
        self._echoes_sent += 1
        token = str(self._echoes_sent)
        self._echoes[token] = echo = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(within):
                async with self.db.read_only() as conn:
                    await conn.execute("SELECT pg_notify($1, $2)", self._echo_channel, token)
                await echo
            return True
        except (TimeoutError, asyncpg.PostgresError, *UNAVAILABLE):
            return False
        finally:
            del self._echoes[token]

    def _on_echo(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        echo = self._echoes.get(payload)
        if echo is not None and not echo.done():
            echo.set_result(None)

    async def _flush(self) -> None:
        """Changes arriving close together become one query and one event per product. An id
        leaves `_pending` only once its product is published: if the query fails (a connection
        killed, the database restarting) it is tried again, with a growing pause, until it works."""
        try:
            await asyncio.sleep(self.coalesce_seconds)
            pause = self.coalesce_seconds
            while self._pending:
                ids = sorted(self._pending)
                telling = bool(self.subscribers)  # as it is now: one may come while this reads
                try:
                    if telling:
                        summaries = await self._load(ids)
                    else:  # nobody to tell: only each status, which the next alert is judged against
                        statuses = await self._load_statuses(ids)
                except Exception:
                    log.exception("could not read %d changed products; trying again in %.2f s", len(ids), pause)
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, 2.0)
                    continue
                self._pending.difference_update(ids)
                if telling:
                    self._publish(summaries, alerts=True)
                else:
                    self._status.update((sku, status(available, low).value) for sku, available, low in statuses)
                    for sku, _, _ in statuses:  # unknown again: their next change tells `holds` streams
                        self._reserved.pop(sku, None)
        finally:
            self._flusher = None

    async def _resync(self) -> None:
        """Everything, to everyone (each subscriber takes what it follows): after a reconnect nobody
        can know what was missed. Read and published a piece at a time, so memory stays that of one;
        a subscriber to every product is told to read the state again at its own pace (`follow`),
        rather than get the catalogue's events queued at once."""
        alerts = bool(self._status)
        for subscriber in self.subscribers:  # a subscriber to every product reads it again itself
            if subscriber.every_product:
                _offer(subscriber, RESYNC)
            if subscriber.all_holds:  # any hold may have changed: one event says so (not one per product)
                _offer(subscriber, Event("holds", "", {"sku": None}))
            if subscriber.all_totals:
                _offer(subscriber, Event("totals", "", {"products": None}))
        async for piece in _every_product_in_pieces(self.db, self.view):
            self._publish(piece, alerts=alerts, resync=True)

    def _publish(self, summaries: list[dict[str, Any]], alerts: bool, resync: bool = False) -> None:
        for summary in summaries:
            sku, status = summary["sku"], summary["status"]
            events = [Event("stock", sku, summary)]
            before = self._status.get(sku)
            if alerts and before is not None and before != status:
                events.append(Event("alert", sku, {
                    "sku": sku, "status": status, "available": summary["available"],
                    "threshold": summary["low_stock_threshold"]}))  # fmt: skip
            self._status[sku] = status
            held = summary.get("reserved")
            if held is not None:
                if self._reserved.get(sku) != held and not resync:
                    events.append(Event("holds", sku, {"sku": sku, "reserved": held}))
                self._reserved[sku] = held
            for subscriber in self.subscribers:
                for event in events:
                    if subscriber.wants(sku, event.kind) and not (resync and subscriber.every_product
                                                                  and event.kind == "stock"):  # fmt: skip
                        _offer(subscriber, event)
        if summaries and not resync:  # after the products' own events: the totals include them
            changed = Event("totals", "", {"products": len(summaries)})
            for subscriber in self.subscribers:
                if subscriber.all_totals:
                    _offer(subscriber, changed)

    # --- subscribers --------------------------------------------------------------------------

    async def follow(
        self, skus: Iterable[str], all_alerts: bool = False, all_holds: bool = False, all_totals: bool = False
    ) -> AsyncIterator[Event]:
        """The current state of what is followed, then every change, until the hub stops. With
        `all_alerts`, `skus` alone are followed (none: only alerts), plus every product's alerts;
        their state on connect is that of `skus` only. With `all_holds`, every product's `holds`
        events (no state on connect: the page that asks has just read it); with `all_totals`, a `totals`
        event each time products changed (none on connect either)."""
        subscriber = Subscriber(frozenset(skus), all_alerts=all_alerts, all_holds=all_holds, all_totals=all_totals)
        self.subscribers.add(subscriber)
        try:
            if subscriber.skus:
                async with self.db.read_only() as conn:
                    followed = await rows.by_skus(conn, sorted(subscriber.skus))
                for product in followed:
                    summary = self.view(product)
                    yield Event("stock", summary["sku"], summary)
            elif subscriber.every_product:
                async for summary in _every_product(self.db, self.view):
                    yield Event("stock", summary["sku"], summary)
            while (event := await subscriber.queue.get()) is not None:
                if event is RESYNC:  # the listener was lost: the state again, from the database
                    async for summary in _every_product(self.db, self.view):
                        yield Event("stock", summary["sku"], summary)
                    continue
                yield event
        finally:
            self.subscribers.discard(subscriber)


STATE_PIECE = 500  # products per read of an unfiltered stream's state on connect


async def _every_product_in_pieces(
    db: Database, view: ProductView, piece: int = STATE_PIECE
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every product's summary in SKU order, `piece` at a time (read by key, each read on a pooled
    connection given back before the piece is used): memory stays that of one piece, and a slow
    client holds no connection."""
    after = ""  # sorts before every SKU (a SKU is never empty)
    while True:
        async with db.read_only() as conn:
            products = await rows.after_sku(conn, after, piece)
        if products:
            yield [view(p) for p in products]
        if len(products) < piece:
            return
        after = products[-1].sku


async def _every_product(db: Database, view: ProductView) -> AsyncIterator[dict[str, Any]]:
    async for piece in _every_product_in_pieces(db, view):
        for summary in piece:
            yield summary


def _offer(subscriber: Subscriber, event: Event) -> None:
    """A subscriber too slow to keep up loses its oldest events, never stalls the others."""
    if subscriber.queue.full():
        subscriber.queue.get_nowait()
    subscriber.queue.put_nowait(event)
