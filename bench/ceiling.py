"""Issue "Speed": Stockroom's hot-product sales and reservations beside the framework's ceiling.

    python -m bench.ceiling [--seconds 10] [--connections 1000] [--warmup 2] [--rounds 3]

In one run, on the same machine, one app worker each, the same wrk load (bench/sell.lua):
  1. a bare Litestar app on the same uvicorn options (bench/bare_app.py): parse, token lookup, 201;
  2. the same plus one asyncpg `SELECT 1` per request;
  3. Stockroom, committed SELLs of one hot product (counted in the database), then the same from a
     client that sends `Accept-Encoding: gzip`, as most HTTP libraries do by default;
  4. Stockroom, committed reservations of one hot product (bench/reserve.lua);
  5. Stockroom, confirms of holds on one hot product (bench/confirm.lua), each a SELL: the holds are
     made beforehand in the database, more than a run can confirm.
Each run follows --warmup seconds of the same load, not measured, on the same server (all of them).
The whole set is measured --rounds times in turn (the bare apps and Stockroom alternate, since this
machine's speed drifts within minutes); each round is printed, and the targets are judged on the
medians. Prints requests/s, Python CPU per request of the serving process, and each ratio beside
its target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx

from bench.common import serving, throwaway_database
from bench.sells import seed, sells_committed
from tests.conftest import _free_port

HERE = Path(__file__).resolve().parent
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def wrk(base: str, script: str, seconds: int, connections: int, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(HERE / script), base],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    found = re.search(r"WRK requests=(\d+) non2xx=(\d+) errors=(\d+) p50_ms=([\d.]+) p99_ms=([\d.]+)", out)
    assert found, out
    keys = ("requests", "non2xx", "errors", "p50_ms", "p99_ms")
    return dict(zip(keys, map(float, found.groups()), strict=True))


def bare(token: str, query_url: str | None) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "TOKEN": token, **({"BARE_QUERY_URL": query_url} if query_url else {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.bare_app:app", "--port", str(port), "--loop", "uvloop",
         "--http", "httptools", "--no-access-log", "--timeout-keep-alive", "5", "--log-level", "warning"],
        cwd=HERE.parent, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            httpx.post(f"{base}/api/transactions", content=b"{}", headers={"Authorization": f"Bearer {token}"})
            return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the bare app did not start")


def measured(pid: int, run) -> tuple[dict[str, float], float]:  # type: ignore[no-untyped-def]
    cpu, started = cpu_seconds(pid), time.perf_counter()
    result = run()
    return result, (cpu_seconds(pid) - cpu), time.perf_counter() - started  # type: ignore[return-value]


async def reservations_committed(url: str, sku: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM reservation r JOIN product p ON p.id = r.product WHERE p.sku = $1", sku))  # fmt: skip
    finally:
        await conn.close()


async def holds_to_confirm(url: str, sku: str, count: int) -> tuple[int, int]:
    """`count` active one-unit holds of `sku`, made directly (as the app's INSERT and its `reserved`
    update do); the first and last id."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            ids = await conn.fetchrow(
                """WITH made AS (
                       INSERT INTO reservation (product, order_ref, quantity, created_at, expires_at)
                       SELECT p.id, $3 || g, 1, now(), now() + interval '1 hour'
                       FROM product p, generate_series(1, $2) AS g WHERE p.sku = $1 RETURNING id)
                   SELECT min(id), max(id) FROM made""",
                sku, count, f"c{time.time_ns()}-",
            )  # fmt: skip
            await conn.execute("UPDATE product SET reserved = reserved + $2 WHERE sku = $1", sku, count)
        return ids[0], ids[1]
    finally:
        await conn.close()


async def confirms_committed(url: str, sku: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM reservation r JOIN product p ON p.id = r.product "
            "WHERE p.sku = $1 AND r.status = 'confirmed'", sku))  # fmt: skip
    finally:
        await conn.close()


Row = tuple[str, float, float, str]  # name, requests/s, CPU µs per request, note
RATIOS = (  # label, numerator, denominator, target
    ("hot SELL / bare Litestar", "Stockroom hot SELL", "bare Litestar", 0.6),
    ("hot SELL / bare + SELECT 1", "Stockroom hot SELL", "bare Litestar + SELECT 1", 1.0),
    ("hot reservation / hot SELL", "Stockroom hot reservation", "Stockroom hot SELL", 0.8),
    ("hot confirm / hot SELL", "Stockroom hot confirm", "Stockroom hot SELL", 0.8),
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of the same load, not measured, before each run")
    parser.add_argument("--rounds", type=int, default=3, help="times the whole set is measured, in turn")
    args = parser.parse_args()

    def warmed(base: str, script: str, env: dict[str, str]) -> None:
        """Every server (the bare ones too) gets the same unmeasured load first: a first run otherwise
        also counts 1,000 connections opening, first look-ups of the token and SKU, and the pool filling."""
        if args.warmup:
            wrk(base, script, args.warmup, args.connections, env)

    def one_round(url: str, server, token: str, n: int) -> list[Row]:  # type: ignore[no-untyped-def]
        rows: list[Row] = []
        for name, query in (("bare Litestar", None), ("bare Litestar + SELECT 1", url)):
            process, base = bare(token, query)
            try:
                warmed(base, "sell.lua", {"TOKEN": token, "HOT_SKU": "x"})
                stats, cpu, elapsed = measured(process.pid, lambda b=base: wrk(
                    b, "sell.lua", args.seconds, args.connections, {"TOKEN": token, "HOT_SKU": "x"}))  # fmt: skip
                ok = stats["requests"] - stats["non2xx"]
                rows.append((name, ok / elapsed, cpu / max(ok, 1) * 1e6, f"p99 {stats['p99_ms']:.0f} ms"))
            finally:
                process.terminate()
                process.wait()
        warmed(server.url, "sell.lua", {"TOKEN": token, "HOT_SKU": "CEIL-1"})
        before = asyncio.run(sells_committed(url, "CEIL-"))
        stats, cpu, elapsed = measured(server.process.pid, lambda: wrk(
            server.url, "sell.lua", args.seconds, args.connections, {"TOKEN": token, "HOT_SKU": "CEIL-1"}))  # fmt: skip
        sold = asyncio.run(sells_committed(url, "CEIL-")) - before
        rows.append(("Stockroom hot SELL", sold / elapsed, cpu / max(sold, 1) * 1e6, f"p99 {stats['p99_ms']:.0f} ms"))
        before = asyncio.run(sells_committed(url, "CEIL-"))
        stats, cpu, elapsed = measured(server.process.pid, lambda: wrk(
            server.url, "sell.lua", args.seconds, args.connections,
            {"TOKEN": token, "HOT_SKU": "CEIL-1", "ACCEPT_ENCODING": "gzip"}))  # fmt: skip
        sold = asyncio.run(sells_committed(url, "CEIL-")) - before
        rows.append(("  the same, client takes gzip", sold / elapsed, cpu / max(sold, 1) * 1e6,
                     f"p99 {stats['p99_ms']:.0f} ms"))  # fmt: skip
        hot_reserve = {"TOKEN": token, "HOT_SKU": "CRES-1", "ORDER_PREFIX": f"r{n}-"}  # each round's own orders
        warmed(server.url, "reserve.lua", {**hot_reserve, "ORDER_PREFIX": f"warm{n}-"})
        held_before = asyncio.run(reservations_committed(url, "CRES-1"))
        stats, cpu, elapsed = measured(
            server.process.pid, lambda: wrk(server.url, "reserve.lua", args.seconds, args.connections, hot_reserve)
        )
        held = asyncio.run(reservations_committed(url, "CRES-1")) - held_before
        rows.append(("Stockroom hot reservation", held / elapsed, cpu / max(held, 1) * 1e6,
                     f"p99 {stats['p99_ms']:.0f} ms"))  # fmt: skip
        if args.warmup:
            first, last = asyncio.run(holds_to_confirm(url, "CONF-1", 3_000 * args.warmup))
            wrk(server.url, "confirm.lua", args.warmup, args.connections,
                {"TOKEN": token, "ID_FIRST": str(first), "ID_LAST": str(last)})  # fmt: skip
        first, last = asyncio.run(holds_to_confirm(url, "CONF-1", 4_000 * args.seconds))
        before = asyncio.run(confirms_committed(url, "CONF-1"))
        stats, cpu, elapsed = measured(server.process.pid, lambda: wrk(
            server.url, "confirm.lua", args.seconds, args.connections,
            {"TOKEN": token, "ID_FIRST": str(first), "ID_LAST": str(last)}))  # fmt: skip
        confirmed = asyncio.run(confirms_committed(url, "CONF-1")) - before
        note = f"p99 {stats['p99_ms']:.0f} ms" + (", ran out of holds" if confirmed >= last - first + 1 else "")
        rows.append(("Stockroom hot confirm", confirmed / elapsed, cpu / max(confirmed, 1) * 1e6, note))
        return rows

    rounds: list[list[Row]] = []
    with throwaway_database() as url, serving(url, INVENTORY_WORKERS="1") as server:
        token = server.headers["Authorization"].removeprefix("Bearer ")
        asyncio.run(seed(url, "CEIL-", 1, 100_000_000))
        asyncio.run(seed(url, "CRES-", 1, 100_000_000))
        asyncio.run(seed(url, "CONF-", 1, 100_000_000))
        for n in range(1, args.rounds + 1):
            rounds.append(one_round(url, server, token, n))
            print(f"round {n} of {args.rounds}", flush=True)
            _print(rounds[-1])
    print(f"wrk -c{args.connections} -d{args.seconds}s, 1 worker each, cores={os.cpu_count()}; "
          f"median of {len(rounds)} round(s), each measurement in turn")  # fmt: skip
    medians = [
        (name, statistics.median(r[i][1] for r in rounds), statistics.median(r[i][2] for r in rounds), "")
        for i, (name, *_) in enumerate(rounds[0])
    ]
    _print(medians, verdict=True)


def _print(rows: list[Row], verdict: bool = False) -> None:
    print(f"{'':<28}{'req/s':>10}{'CPU µs/req':>12}")
    for name, rate, cpu_us, note in rows:
        print(f"{name:<28}{rate:>10.0f}{cpu_us:>12.0f}   {note}")
    rate = {name: r for name, r, _, _ in rows}
    for label, over, under, target in RATIOS:
        value = rate[over] / rate[under]
        judged = f"  {'met' if value >= target else 'NOT met'}" if verdict else ""
        print(f"{label:<28}{value:>10.2f}   target ≥ {target}{judged}")


if __name__ == "__main__":
    main()
