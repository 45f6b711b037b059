"""Seed 001's GraphQL API at /graphql (issue 14): Strawberry's Litestar integration over the same
services, roles and idempotency as the REST API. Queries need a viewer (the route's role, checked by
the app's access middleware like every route); mutations check their own role in the resolver, as
the REST route for the same change does."""

from __future__ import annotations

import json
import logging
from html import escape
from typing import Any

from cross_web import HTTPException  # Strawberry's own (its HTTP views raise it)
from litestar import MediaType, Request, Response
from litestar.background_tasks import BackgroundTasks
from litestar.di import Provide
from litestar.exceptions import WebSocketDisconnect
from strawberry.exceptions import ConnectionRejectionError
from strawberry.litestar import make_graphql_controller
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from uvicorn.protocols.utils import ClientDisconnected

from app.domain.access import Role
from app.web.graphql.context import GraphQLContext, context_getter, identity_in_params
from app.web.graphql.schema import schema

_Base: Any = make_graphql_controller(schema, path="/graphql", context_getter=context_getter, graphql_ide="graphiql")
log = logging.getLogger("stockroom.graphql")


class SubscriptionSockets(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, but a subscriber whose connection is gone is let go
    quietly: it logged an ERROR with a traceback for each (51 after 100 sockets dropped in a trial),
    which buries the errors that matter. Anything else is still logged as Strawberry logs it."""

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, ClientDisconnected | WebSocketDisconnect):
            log.info("a subscriber's connection was gone: its subscription ended (%s)", type(error).__name__)
            return
        await super().handle_task_exception(error)



GRAPHIQL_PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Stockroom GraphQL</title>
  <meta name="csrf-token" content="{csrf}">
  <link rel="icon" href="/static/favicon.svg">
  <link rel="stylesheet" href="/static/vendor/graphiql/graphiql.min.css">
  <link rel="stylesheet" href="/static/graphiql.css">
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="/static/vendor/graphiql/react.production.min.js"></script>
  <script src="/static/vendor/graphiql/react-dom.production.min.js"></script>
  <script src="/static/vendor/graphiql/graphiql.min.js"></script>
  <script src="/static/graphiql.js"></script>
</body>
</html>
"""


def _sub_response() -> Response[Any]:
    """The response the controller copies headers and status from (Strawberry's own, without the
    thread hop its `sync_to_thread=True` costs every request)."""
    return Response({}, background=BackgroundTasks([]))


class GraphQLController(_Base):  # type: ignore[misc]
    opt = {"role": Role.VIEWER}  # GraphiQL (GET) and every query or mutation (POST) need a signed-in user
    include_in_schema = False  # documented by its own SDL, not the REST API's OpenAPI
    dependencies = {**_Base.dependencies, "response": Provide(_sub_response, sync_to_thread=False)}
    graphql_transport_ws_handler_class = SubscriptionSockets

    async def render_graphql_ide(self, request: Request[Any, Any, Any]) -> Response[str]:
        """GraphiQL from the app's own static files (Strawberry's page loads it from a CDN, which the
        app's Content-Security-Policy refuses), with the session's CSRF token for its requests."""
        csrf = getattr(request.user, "csrf", None) or ""
        return Response(GRAPHIQL_PAGE.format(csrf=escape(csrf)), media_type=MediaType.HTML)

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except RecursionError:  # a body nested a few thousand levels deep: the client's mistake, not a 500
            raise HTTPException(400, "The request body is nested too deeply to read") from None
        if not isinstance(value, dict | list):  # Strawberry reads fields of it: `null` or "text" was a 500
            raise HTTPException(400, "The request body must be a JSON object (or a list of them)")
        return value

    async def execute_request(self, request: Request[Any, Any, Any], context: Any, root_value: Any) -> Response[Any]:
        """A request GraphQL cannot even read (not JSON, no query, nested too deeply) answers its status
        with a GraphQL error body, as every other error does, not Strawberry's plain text."""
        try:
            return await self.run(request, context=context, root_value=root_value)  # type: ignore[no-any-return]
        except HTTPException as e:
            code = "BAD_REQUEST" if e.status_code < 500 else "INTERNAL_SERVER_ERROR"
            body = {"errors": [{"message": e.reason, "extensions": {"code": code}}]}
            return Response(body, status_code=e.status_code)

    async def on_ws_connect(self, context: GraphQLContext) -> Any:
        """A subscription socket needs the same credentials as a request (its upgrade request's token
        or session cookie, or a token in connection_init): refused at connection_init without."""
        if context.identity is None:
            context.identity = await identity_in_params(context)
        if context.identity is None:
            raise ConnectionRejectionError({"reason": "Log in, or send an API token"})
        return await super().on_ws_connect(context)


__all__ = ["GraphQLController", "schema"]
