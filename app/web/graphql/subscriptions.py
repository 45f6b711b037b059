"""Subscriptions over graphql-transport-ws, fed by the app's EventHub: the same LISTEN/NOTIFY events
as /events, so a change made through any process (REST, a page, GraphQL, the CLI) arrives. A
subscription ends with an UNAUTHENTICATED error once the token or session its socket was opened with
stops being valid (user deactivated, token revoked, logged out), before any further event."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator

import strawberry
from graphql import GraphQLError
from strawberry import Info

from app.services.events import Event
from app.web.graphql.context import GraphQLContext
from app.web.graphql.errors import bad_input, checked_sku, signed_in
from app.web.graphql.types import Inventory, StockAlert
from app.web.live_credentials import LiveCredentials, while_valid

Ctx = Info[GraphQLContext, None]
MAX_FOLLOWED = 500


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="These products' figures now, then again after every change (every product without `skus`)"
    )
    async def stock_changed(self, info: Ctx, skus: list[str] | None = None) -> AsyncGenerator[Inventory, None]:
        signed_in(info.context)
        followed = [checked_sku(s, "skus") for s in skus or []]
        if len(followed) > MAX_FOLLOWED:
            raise bad_input([("skus", f"must name at most {MAX_FOLLOWED} SKUs")])
        async for event in _while_signed_in(info.context, followed):
            if event.kind == "stock":
                yield Inventory.of(event.data)

    @strawberry.subscription(description="Every product whose stock status changes (ok, low, out), as it changes")
    async def stock_alerts(self, info: Ctx) -> AsyncGenerator[StockAlert, None]:
        signed_in(info.context)
        async for event in _while_signed_in(info.context, [], all_alerts=True):
            if event.kind == "alert":
                data = event.data
                yield StockAlert(sku_id=data["sku"], status=data["status"], available_stock=data["available"],
                                 warning_threshold=data["threshold"])  # fmt: skip


async def _while_signed_in(context: GraphQLContext, skus: list[str], all_alerts: bool = False) -> AsyncIterator[Event]:
    """The hub's events while the socket's credentials stay valid; then an UNAUTHENTICATED error."""
    credentials: LiveCredentials | None = context.credentials
    events = context.services.hub.follow(skus, all_alerts=all_alerts)
    if credentials is None:  # not over a socket
        async for event in events:
            yield event
        return
    async for event in while_valid(events, credentials):
        yield event
    if credentials.lapsed:
        raise GraphQLError("Your session or API token is no longer valid", extensions={"code": "UNAUTHENTICATED"})
