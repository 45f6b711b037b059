"""Benchmark: a real catalogue (issue 13), each target at a small and a large catalogue side by side.

    python -m bench.catalogue [--sections import] [--products 1000,50000] [--rows-per-product 20]
                              [--databases embedded,pg15] [--sell-rate 20]

Sections (each prints its own table; add one by writing a function and naming it in SECTIONS):

import   One CSV file of N products × 20 rows (1,000,000 rows at 50,000 products), in the export's
         format and in time order (every product's rows spread through the file), imported into a
         fresh database by `POST /api/import` (one request, the server streams the body) and by
         `inventory import FILE`, against the embedded server and against Debian's PostgreSQL 15
         with initdb's default settings (bench.common.debian_postgres). While it runs, another
         product gets a steady stream of SELLs (20 a second) on a server of the same database;
         the table shows their p99 and worst answer time. Peak memory is the importing process's
         VmHWM (the server's, for HTTP: one worker, so sales and the import share its event loop;
         the CLI's, for `inventory import`); cpu is that process's CPU time for the import (the machine's
         load varies, that does not). Each import gets a new database, dropped after it.
         Target: ≤ 60 s, ≤ 500 MiB, sales p99 ≤ 1 s, no 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil

from app.services import embedded
from bench.common import debian_postgres, serving

ROOT = Path(__file__).resolve().parent.parent
MiB = 2**20


# --- shared ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def database_server(kind: str) -> Iterator[str]:
    """The URL of a throwaway PostgreSQL server's `postgres` database: embedded or Debian's 15.
    Each import gets a new database in it, migrated by the app itself."""
    if kind == "pg15":
        with debian_postgres(15) as url:
            yield url
        return
    data_dir = Path(tempfile.mkdtemp(prefix="src-", dir="/tmp"))
    try:
        yield embedded.ensure_running(data_dir)
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def _sql(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


@contextlib.contextmanager
def new_database(url: str, name: str) -> Iterator[str]:
    """A new database in the server, dropped afterwards (so that autovacuum on what one import
    wrote does not slow the next one down)."""
    asyncio.run(_sql(url, f"CREATE DATABASE {name}"))
    try:
        yield url.replace("/postgres?", f"/{name}?")
    finally:
        asyncio.run(_sql(url, f"DROP DATABASE {name} WITH (FORCE)"))


def peak_rss(pid: int) -> int:
    """The largest VmHWM (peak resident memory) of a process and its children, in bytes."""
    processes = [psutil.Process(pid)]
    processes += processes[0].children(recursive=True)
    peak = 0
    for p in processes:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
    return peak


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class SellStream:
    """SELLs of one product at a steady rate on their own thread, timed from send to answer."""

    server_url: str
    headers: dict[str, str]
    sku: str
    rate: float
    times: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SellStream:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()

    def _run(self) -> None:
        sale = {"sku": self.sku, "type": "SELL", "quantity": 1, "unit_price": "2.00"}
        with httpx.Client(base_url=self.server_url, headers=self.headers, timeout=60) as client:
            due = time.monotonic()
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.statuses.append(client.post("/api/transactions", json=sale).status_code)
                except httpx.HTTPError:
                    self.statuses.append(0)
                self.times.append(time.monotonic() - started)
                due += 1 / self.rate
                self._stop.wait(max(0.0, due - time.monotonic()))

    def summary(self) -> str:
        bad = sum(1 for s in self.statuses if s != 201)
        return (f"p99 {quantile(self.times, 0.99) * 1000:5.0f} ms, max {max(self.times, default=0) * 1000:5.0f} ms, "
                f"{len(self.times)} sales{f', {bad} not 201' if bad else ''}")  # fmt: skip


def stocked_product(server_url: str, headers: dict[str, str], sku: str) -> None:
    with httpx.Client(base_url=server_url, headers=headers, timeout=60) as client:
        assert client.post("/api/products", json={"sku": sku, "name": "Sold meanwhile"}).status_code == 201
        r = client.post("/api/transactions", json={"sku": sku, "type": "BUY", "quantity": 1_000_000, "unit_price": "1"})
        assert r.status_code == 201, r.text


# --- import ---------------------------------------------------------------------------------------


def write_catalogue(path: Path, products: int, rows_per_product: int) -> int:
    """Per product: a BUY of 100 naming it, then SELLs of 3 with a BUY of 50 every fifth row; one
    row per product per day, products a second apart within the day, the file in time order."""
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = 0
    with path.open("w") as out:
        out.write("external_id,sku,product_name,category,brand,type,quantity,unit_price,at,note\n")
        for day in range(rows_per_product):
            for p in range(products):
                at = (start + timedelta(days=day, seconds=p)).isoformat()
                if day == 0:
                    line = f"c{p}-0,CAT-{p:06d},Catalogue product {p},Category {p % 40},Brand {p % 300},BUY,100,"
                    line += f"{1 + p % 17}.{p % 100:02d},{at},first delivery\n"
                elif day % 5 == 0:
                    line = f"c{p}-{day},CAT-{p:06d},,,,BUY,50,{1 + p % 17}.{(p + day) % 100:02d},{at},\n"
                else:
                    line = f"c{p}-{day},CAT-{p:06d},,,,SELL,3,{20 + p % 30}.{day:02d},{at},\n"
                out.write(line)
                rows += 1
    return rows


@dataclass
class Outcome:
    seconds: float
    cpu: float  # seconds of CPU the importing process spent on it
    answer: str
    peak: int
    sales: SellStream
    failed: bool


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def import_by_http(url: str, name: str, path: Path, rate: float) -> Outcome:
    with new_database(url, name) as db, serving(db) as server:
        headers = server.headers  # type: ignore[attr-defined]
        stocked_product(server.url, headers, "SOLD-MEANWHILE")
        process = psutil.Process(server.process.pid)
        with SellStream(server.url, headers, "SOLD-MEANWHILE", rate) as sales, path.open("rb") as body:
            time.sleep(1)  # a steady stream before the import starts
            cpu, started = _cpu(process), time.perf_counter()
            r = httpx.post(f"{server.url}/api/import", content=body, timeout=3600,
                           headers={**headers, "content-type": "text/csv"})  # fmt: skip
            seconds, cpu = time.perf_counter() - started, _cpu(process) - cpu
        peak = peak_rss(server.process.pid)
    answer = str(r.json() if r.status_code < 500 else r.text[:300])
    return Outcome(seconds, cpu, f"{r.status_code} {answer}", peak, sales, r.status_code != 201)


def import_by_cli(url: str, name: str, path: Path, rate: float) -> Outcome:
    with new_database(url, name) as db, serving(db) as server:
        headers = server.headers  # type: ignore[attr-defined]
        stocked_product(server.url, headers, "SOLD-MEANWHILE")
        with SellStream(server.url, headers, "SOLD-MEANWHILE", rate) as sales:
            time.sleep(1)
            started = time.perf_counter()
            with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
                child = subprocess.Popen([sys.executable, "-m", "app.cli", "import", str(path)], cwd=ROOT,
                                         env={**os.environ, "INVENTORY_DATABASE_URL": db}, stdout=out, stderr=err,
                                         text=True)  # fmt: skip
                # Reaped here, with its own rusage: the CLI's peak, not that of every child so far.
                _, status, usage = os.wait4(child.pid, 0)
                child.returncode = os.waitstatus_to_exitcode(status)
                seconds = time.perf_counter() - started
                out.seek(0)
                err.seek(0)
                said = out.read().strip() if child.returncode == 0 else err.read().strip().splitlines()[-1][:300]
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    return Outcome(seconds, cpu, f"exit {child.returncode}: {said}", peak, sales, child.returncode != 0)


def import_section(args: argparse.Namespace) -> bool:
    sizes = [int(x) for x in args.products.split(",")]
    files = {}
    print(f"## import: one file of N products × {args.rows_per_product} rows, by HTTP and by the CLI; "
          f"SELLs of another product at {args.sell_rate:g}/s meanwhile")  # fmt: skip
    for products in sizes:
        path = Path(tempfile.mkstemp(prefix=f"catalogue-{products}-", suffix=".csv")[1])
        rows = write_catalogue(path, products, args.rows_per_product)
        files[products] = (path, rows)
        print(f"   file: {products:,} products, {rows:,} rows, {path.stat().st_size / MiB:.1f} MiB")
    print(f"{'database':<10} {'products':>9} {'rows':>10} {'via':<5} {'time':>7} {'rows/s':>8} {'cpu':>6} "
          f"{'peak RSS':>9}  sales meanwhile; answer")  # fmt: skip
    ok = True
    try:
        for kind in args.databases.split(","):
            with database_server(kind) as url:
                for products in sizes:
                    path, rows = files[products]
                    for via, run in (("HTTP", import_by_http), ("CLI", import_by_cli)):
                        o = run(url, f"import_{via.lower()}_{products}", path, args.sell_rate)
                        ok = ok and not o.failed and all(s == 201 for s in o.sales.statuses)
                        print(f"{kind:<10} {products:>9,} {rows:>10,} {via:<5} {o.seconds:>6.1f}s "
                              f"{rows / o.seconds:>8,.0f} {o.cpu:>5.1f}s {o.peak / MiB:>6.0f} MiB  "
                              f"{o.sales.summary()}; {o.answer}", flush=True)  # fmt: skip
    finally:
        for path, _ in files.values():
            path.unlink()
    return ok


SECTIONS: dict[str, Callable[[argparse.Namespace], bool]] = {"import": import_section}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--products", default="1000,50000", help="catalogue sizes, side by side")
    parser.add_argument("--rows-per-product", type=int, default=20)
    parser.add_argument("--databases", default="embedded,pg15", help="embedded and/or pg15 (Debian's, defaults)")
    parser.add_argument("--sell-rate", type=float, default=20.0, help="SELLs per second during the import")
    args = parser.parse_args()
    started = time.perf_counter()
    results = [SECTIONS[name](args) for name in args.sections.split(",")]
    print(f"done in {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.1f}")
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
