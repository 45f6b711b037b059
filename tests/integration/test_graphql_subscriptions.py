"""GraphQL subscriptions over graphql-transport-ws, fed by the LISTEN/NOTIFY hub that feeds /events:
a change made through REST on one process arrives on a subscription held by another."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import websockets

from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration


@asynccontextmanager
async def subscribed(
    server_url: str, token: str | None, query: str, variables: dict[str, Any] | None = None, *, in_init: bool = False
) -> AsyncIterator[websockets.ClientConnection]:
    """A graphql-transport-ws socket, past connection_init, with one subscription (id "1"). The token
    goes in the upgrade request's header, or (`in_init`) in connection_init's payload."""
    credentials = {"Authorization": f"Bearer {token}"} if token else {}
    headers, params = ({}, credentials) if in_init else (credentials, {})
    url = server_url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], additional_headers=headers) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": params}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": query, "variables": variables or {}}}))  # fmt: skip
        yield ws


async def next_payload(ws: websockets.ClientConnection, within: float = 10) -> dict[str, Any]:
    message = json.loads(await asyncio.wait_for(ws.recv(), within))
    assert message["type"] == "next", message
    return message["payload"]


STOCK = "subscription($s: [String!]) { stockChanged(skus: $s) { skuId currentStock availableStock status } }"


async def test_a_rest_change_arrives_on_the_other_process_within_a_second(api, second_server, tokens):
    sku = await make_product(api, low_stock_threshold=3)
    await record(api, sku, "BUY", 10, "2.00")
    async with subscribed(second_server.url, tokens["viewer"], STOCK, {"s": [sku]}) as ws:
        first = await next_payload(ws)
        assert first["data"]["stockChanged"] == {"skuId": sku, "currentStock": 10, "availableStock": 10,
                                                 "status": "ok"}  # fmt: skip
        await asyncio.sleep(0.2)  # the subscriber is registered with the hub
        sent = time.monotonic()
        await record(api, sku, "SELL", 8, "3.00")  # through REST, on the first process
        changed = await next_payload(ws, within=5)
        while changed["data"]["stockChanged"] == first["data"]["stockChanged"]:  # a state event may repeat
            changed = await next_payload(ws, within=5)
        assert time.monotonic() - sent < 1.0
        assert changed["data"]["stockChanged"] == {"skuId": sku, "currentStock": 2, "availableStock": 2,
                                                   "status": "low"}  # fmt: skip


async def test_stock_alerts_announce_a_status_change(api, server, tokens):
    sku = await make_product(api, low_stock_threshold=5)
    await record(api, sku, "BUY", 10, "2.00")
    await asyncio.sleep(0.3)  # the hub has seen the product as ok
    query = "subscription { stockAlerts { skuId status availableStock warningThreshold } }"
    async with subscribed(server.url, tokens["clerk"], query, in_init=True) as ws:
        await asyncio.sleep(0.2)
        await record(api, sku, "SELL", 7, "3.00")
        while True:  # other tests' products may alert too
            alert = (await next_payload(ws, within=5))["data"]["stockAlerts"]
            if alert["skuId"] == sku:
                break
        assert alert == {"skuId": sku, "status": "low", "availableStock": 3, "warningThreshold": 5}


@pytest.mark.parametrize("payload", [{}, {"Authorization": "Bearer not-a-token"}])
async def test_a_subscription_without_credentials_is_refused(server, payload):
    url = server.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
