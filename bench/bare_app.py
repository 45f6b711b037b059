"""The framework's own ceiling for the sells benchmark: a bare Litestar app on the same uvicorn
options as `inventory serve`, answering the bench's POST like Stockroom does in shape only.

It parses the JSON body, looks the bearer token up in a dict and answers a 328-byte 201.
With BARE_QUERY_URL set it also runs one asyncpg `SELECT 1` per request on a pool.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from litestar import Litestar, Request, Response, post

TOKENS = {os.environ.get("TOKEN", "t"): "bench"}
BODY = json.dumps({"id": 1, "seq": 1, "sku": "x", "type": "SELL", "quantity": 1, "unit_price": "9.9900",
                   "at": "2026-11-30T00:00:00+00:00", "stock_after": 9999, "average_cost_after": "4.000000",
                   "revenue": "9.99", "cogs": "4.00", "realized_pl": "5.99", "write_off": "0.00",
                   "gain": "0.00", "note": None, "reason": None, "product": {}}).encode()[:328]  # fmt: skip
POOL: list[asyncpg.Pool] = []


@post("/api/transactions")
async def sell(request: Request[Any, Any, Any]) -> Response[bytes]:
    if TOKENS.get(request.headers.get("authorization", "")[7:]) is None:
        return Response(b"{}", status_code=401)
    json.loads(await request.body())
    if POOL:
        async with POOL[0].acquire() as conn:
            await conn.fetchval("SELECT 1")
    return Response(BODY, status_code=201, media_type="application/json")


@asynccontextmanager
async def lifespan(_: Litestar) -> AsyncIterator[None]:
    if url := os.environ.get("BARE_QUERY_URL"):
        POOL.append(await asyncpg.create_pool(url, min_size=2, max_size=10))
    yield
    if POOL:
        await POOL.pop().close()


app = Litestar([sell], lifespan=[lifespan], openapi_config=None)
