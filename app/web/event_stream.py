from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from app.domain.access import Role
from app.persistence.database import DatabaseUnavailable
from app.services.accounts import AccountService
from app.services.events import EventHub
from app.web.api.schemas_openapi import ApiOperation, answers
from app.web.auth import secret_sent
from app.web.live_credentials import LiveCredentials, while_valid

KEEP_ALIVE_SECONDS = 15


@get("/events", include_in_schema=True, tags=["events"], operation_id="streamEvents", opt={"role": Role.VIEWER},
     operation_class=ApiOperation,
     responses=answers({200: (str, "The stream: `stock`, `alert` (`holds`, `totals`) events, each a JSON object")},
                       media_type="text/event-stream"))  # fmt: skip
async def event_stream(
    request: Request[Any, Any, Any],
    hub: NamedDependency[EventHub],
    accounts: NamedDependency[AccountService],
    sku: Annotated[list[str] | None, QueryParameter(name="sku", required=False)] = None,
    alerts: Annotated[str | None, QueryParameter(name="alerts", required=False)] = None,
    holds: Annotated[str | None, QueryParameter(name="holds", required=False)] = None,
    totals: Annotated[str | None, QueryParameter(name="totals", required=False)] = None,
) -> ASGIApp:
    """Server-sent events: a `stock` event per followed product now, then `stock` and `alert` events as
    figures and statuses change, from whichever process made the change. `?sku=A&sku=B` follows some;
    `&alerts=all` adds the `alert` events of every product (a page's stream: its rows and the alerts
    panel), and `?alerts=all` alone follows only alerts. `?holds=all` adds a `holds` event
    (`{"sku", "reserved"}`) whenever what a product's reservations hold changes (the reservations
    page; no state is sent on connect for it). `?totals=all` adds a `totals` event (`{"products": n}`)
    each time products changed, whichever they were (the dashboard's totals row, which sums products
    not on the page). The stream ends once the token or session it
    was opened with stops being valid (app.web.live_credentials)."""

    # A stream is answered 200 before its first event: make sure the database answers first, so
    # that an outage is a 503 with Retry-After (as for every request), not a stream cut at once.
    if not await hub.db.ready(within=1.0):
        raise DatabaseUnavailable("the database is not reachable")

    credentials = LiveCredentials(accounts, *secret_sent(request))

    async def stream() -> AsyncIterator[ServerSentEvent]:
        followed = hub.follow(
            sku or [], all_alerts=alerts == "all", all_holds=holds == "all", all_totals=totals == "all"
        )
        async for event in while_valid(followed, credentials):
            yield ServerSentEvent(data=event.json(), event=event.kind)

    return _ended_properly(EventSourceResponse(stream(), ping=KEEP_ALIVE_SECONDS))  # type: ignore[arg-type]


def _ended_properly(response: ASGIApp) -> ASGIApp:
    """sse_starlette ends its streams when the server stops, but without the answer's last message:
    uvicorn logged "ASGI callable returned without completing response" for every open page, and
    the browser saw a cut chunked body. The last message is sent for it (after a client that left,
    uvicorn drops it)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        completed = False

        async def noting_the_end(message: Message) -> None:
            nonlocal completed
            completed = completed or (message["type"] == "http.response.body" and not message.get("more_body"))
            await send(message)

        await response(scope, receive, noting_the_end)
        if not completed:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
