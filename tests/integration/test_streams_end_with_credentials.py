"""Live streams end with their credentials: once a user is deactivated, their open `/events` streams
(token or session) and GraphQL subscriptions get nothing more and end, on every process."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import PASSWORD, bearer, inventory_cli, make_user
from tests.integration.helpers import make_product, record

pytestmark = pytest.mark.integration
STOCK = "subscription($s: [String!]) { stockChanged(skus: $s) { skuId currentStock } }"
ENDS_WITHIN = 30  # seconds: generous; the streams check every 2 s and before each event


class SseStream:
    """`GET /events?sku=…` read in the background until the server ends it: (event, data) pairs."""

    def __init__(self, base: str, sku: str, headers: dict[str, str]) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.started = asyncio.Event()
        self.task = asyncio.create_task(self._read(base, sku, headers))

    async def _read(self, base: str, sku: str, headers: dict[str, str]) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=None, headers=headers) as client, client.stream(
            "GET", "/events", params={"sku": sku}) as response:  # fmt: skip
            assert response.status_code == 200
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    self.events.append((kind, json.loads(line.removeprefix("data:"))))
                    self.started.set()

    async def first_event(self) -> None:
        await asyncio.wait_for(self.started.wait(), 10)


async def socket_until_it_ends(ws: websockets.ClientConnection) -> list[dict[str, Any]]:
    """Every message of a graphql-transport-ws socket until subscription "1" completes or the socket closes."""
    messages: list[dict[str, Any]] = []
    try:
        while True:
            message = json.loads(await ws.recv())
            messages.append(message)
            if message.get("type") in ("complete", "error"):
                return messages
    except websockets.ConnectionClosed:
        return messages


async def test_deactivating_a_user_ends_their_open_streams_and_subscriptions(api, server, second_server, database_url):
    name = f"sub-{uuid.uuid4().hex[:10]}"
    token = make_user(database_url, name, "viewer")
    async with httpx.AsyncClient(base_url=second_server.url) as browser:
        login = await browser.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
        assert login.status_code == 303
        session = login.cookies["stockroom_session"]
    sku = await make_product(api)
    await record(api, sku, "BUY", 5, "1.00")

    by_token = SseStream(server.url, sku, bearer(token))
    by_session = SseStream(second_server.url, sku, {"cookie": f"stockroom_session={session}"})
    url = second_server.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        subscribe = {"query": STOCK, "variables": {"s": [sku]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert first["type"] == "next" and first["payload"]["data"]["stockChanged"]["currentStock"] == 5
        await by_token.first_event()
        await by_session.first_event()

        inventory_cli("user", "disable", name, INVENTORY_DATABASE_URL=database_url)
        async with httpx.AsyncClient() as client:  # both processes have been told (their REST refuses it)
            for base in (server.url, second_server.url):
                assert (await client.get(f"{base}/api/products?q=none", headers=bearer(token))).status_code == 401
        await record(api, sku, "BUY", 2, "1.00")  # a change none of them may see

        async with asyncio.timeout(ENDS_WITHIN):
            await by_token.task
            await by_session.task
            after = await socket_until_it_ends(ws)

    for stream in (by_token, by_session):
        assert [data["on_hand"] for kind, data in stream.events if kind == "stock"] == [5]
    assert [(m["type"], m.get("payload")) for m in after] == [
        ("next", {"data": None, "errors": [{"message": "Your session or API token is no longer valid",
                                            "extensions": {"code": "UNAUTHENTICATED"}}]}),
        ("complete", None),
    ]  # fmt: skip
