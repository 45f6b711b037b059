"""Benchmark (a): committed SELLs per second, one hot product and spread over 10,000 products,
each beside a plain pgbench run of the same SQL against the same database, in one run.

    python bench/sells.py [--seconds 10] [--connections 1000] [--workers 1]

Needs `wrk` (apt-get install wrk). Prints one line per scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.common import pgbench_path, serving, throwaway_database

HERE = Path(__file__).resolve().parent
CURRENT_TOKEN = [""]
SPREAD = 10_000

SEED_SQL = """
WITH p AS (
    INSERT INTO product (sku, name, on_hand, average_cost, units_in, tx_count, last_at, last_seq)
    SELECT $1 || g, 'Bench ' || g, $2, 4, $2, 1, now() - interval '1 day', nextval('stock_transaction_seq_seq')
    FROM generate_series(1, $3) g
    RETURNING id, last_at, last_seq
)
INSERT INTO stock_transaction (product, seq, type, quantity, unit_price, at, stock_after, average_cost_after)
SELECT id, last_seq, 'BUY', $2, 4, last_at, $2, 4 FROM p
"""

# What the app does for one sale, as separate statements (pgbench's view of "the same SQL").
PGBENCH_SQL = """
\\set pid random(:lo, :hi)
BEGIN;
SELECT pg_advisory_xact_lock(21332, :pid);
SELECT * FROM product WHERE id = :pid;
SELECT nextval('stock_transaction_seq_seq');
INSERT INTO stock_transaction (product, seq, type, quantity, unit_price, at, stock_after, average_cost_after,
    revenue, cogs, realized_pl) SELECT :pid, currval('stock_transaction_seq_seq'), 'SELL', 1, 9.99, now(),
    on_hand - 1, average_cost, 9.99, average_cost, 9.99 - average_cost FROM product WHERE id = :pid;
UPDATE product SET on_hand = on_hand - 1, units_out = units_out + 1, revenue = revenue + 9.99,
    last_at = now(), last_seq = currval('stock_transaction_seq_seq'), tx_count = tx_count + 1 WHERE id = :pid;
END;
"""


async def seed(url: str, prefix: str, count: int, stock: int) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(SEED_SQL, prefix, stock, count)
        ids = await conn.fetchrow("SELECT min(id), max(id) FROM product WHERE sku LIKE $1", prefix + "%")
        return ids[0], ids[1]
    finally:
        await conn.close()


async def sells_committed(url: str, prefix: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM stock_transaction t JOIN product p ON p.id = t.product "
            "WHERE t.type = 'SELL' AND p.sku LIKE $1",
            prefix + "%",
        )
    finally:
        await conn.close()


def run_wrk(base: str, seconds: int, connections: int, env: dict[str, str]) -> str:
    env = {**env, "TOKEN": CURRENT_TOKEN[0]}
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "-s", str(HERE / "sell.lua"), base],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return re.search(r"WRK .*", out).group(0)


def run_pgbench(url: str, seconds: int, clients: int, lo: int, hi: int) -> float:
    script = Path(tempfile.mkstemp(suffix=".sql")[1])
    script.write_text(PGBENCH_SQL)
    out = subprocess.run(
        [
            pgbench_path(),
            "-n",
            "-M",
            "prepared",
            f"-c{clients}",
            "-j2",
            f"-T{seconds}",
            "-D",
            f"lo={lo}",
            "-D",
            f"hi={hi}",
            "-f",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


async def oversell_check(url: str, prefix: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        bad = await conn.fetchval(
            "SELECT count(*) FROM stock_transaction t JOIN product p ON p.id = t.product "
            "WHERE p.sku LIKE $1 AND t.stock_after < 0",
            prefix + "%",
        )
        negative = await conn.fetchval("SELECT count(*) FROM product WHERE on_hand < 0 OR on_hand < reserved")
        return f"negative points={bad} negative products={negative}"
    finally:
        await conn.close()


def scenario(name: str, url: str, base: str, seconds: int, connections: int, prefix: str, count: int) -> None:
    lo, hi = asyncio.run(seed(url, prefix, count, 10_000_000))
    env = {"HOT_SKU": f"{prefix}1"} if count == 1 else {"SKU_PREFIX": prefix, "SKU_COUNT": str(count)}
    before = asyncio.run(sells_committed(url, prefix))
    started = time.perf_counter()
    wrk = run_wrk(base, seconds, connections, env)
    elapsed = time.perf_counter() - started
    committed = asyncio.run(sells_committed(url, prefix)) - before
    app_rate = committed / elapsed
    pg_lo, pg_hi = asyncio.run(seed(url, prefix + "pg-", count, 10_000_000))
    pg_rate = run_pgbench(url, seconds, 32, pg_lo, pg_hi)
    print(f"{name:<28} app {app_rate:8.0f} sells/s ({committed} committed, {wrk})")
    ratio = app_rate / pg_rate
    target = f"target ≥ 1.0 (issue 12), {'met' if ratio >= 1.0 else 'NOT met'}" if count > 1 else "no target"
    print(f"{'':<28} pgbench same SQL {pg_rate:8.0f} tps (32 clients); app/pgbench = {ratio:.2f}  {target}")
    print(f"{'':<28} {asyncio.run(oversell_check(url, prefix))}")


def finite_stock(url: str, base: str, connections: int) -> None:
    """Zero oversell: 1,000 clients on a product with 3,000 units for 5 s."""
    prefix = "FIN-"
    asyncio.run(seed(url, prefix, 1, 3_000))
    wrk = run_wrk(base, 5, connections, {"HOT_SKU": f"{prefix}1"})
    sold = asyncio.run(sells_committed(url, prefix))
    print(f"{'finite stock (3,000 units)':<28} sold {sold}, {wrk}; {asyncio.run(oversell_check(url, prefix))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with throwaway_database() as url, serving(url, INVENTORY_WORKERS=str(args.workers)) as server:
        CURRENT_TOKEN[0] = server.headers["Authorization"].removeprefix("Bearer ")
        print(f"wrk -c{args.connections} -d{args.seconds}s, {args.workers} app worker(s), cores={os.cpu_count()}")
        scenario("one hot product", url, server.url, args.seconds, args.connections, "HOT-", 1)
        scenario(f"spread over {SPREAD:,} products", url, server.url, args.seconds, args.connections, "SPR-", SPREAD)
        finite_stock(url, server.url, args.connections)


if __name__ == "__main__":
    main()
