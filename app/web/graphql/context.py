"""What every resolver is handed: the app's services, who is asking, and this request's loaders.

Over HTTP the caller is `request.user`, set by the app's authentication middleware (the same bearer
tokens and sessions as REST). A WebSocket (subscriptions) is not seen by that middleware: its
upgrade request's token or session cookie is looked up here with the same account service, and kept
(`credentials`) so that its subscriptions end once it stops being valid."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.types import Scope
from strawberry.litestar.controller import BaseContext

from app.domain.immutable import immutable
from app.persistence.database import Database
from app.services.accounts import AccountService, Identity
from app.services.events import EventHub
from app.services.ledger import LedgerService
from app.services.products import ProductService
from app.services.reports import ReportService
from app.services.reservations import ReservationService
from app.web.auth import secret_sent
from app.web.graphql.loaders import ProductLoader
from app.web.live_credentials import LiveCredentials


@immutable
class Services:
    db: Database
    ledger: LedgerService
    reservations: ReservationService
    products: ProductService
    reports: ReportService
    hub: EventHub


class GraphQLContext(BaseContext, kw_only=True):
    services: Any  # Services (msgspec reads these annotations, and has no use for the types)
    identity: Any = None  # Identity | None: None for an anonymous caller
    header_key: str | None = None  # the request's Idempotency-Key header
    loader: Any = None  # ProductLoader: products by SKU, batched per request
    accounts: Any = None  # AccountService: a subscription socket may send its token in connection_init
    connection_params: Any = None  # that connection_init payload (Strawberry sets it)
    credentials: Any = None  # LiveCredentials: what a socket was opened with, re-checked while it streams


async def context_getter(
    scope: Scope,
    db: NamedDependency[Database],
    ledger: NamedDependency[LedgerService],
    reservations: NamedDependency[ReservationService],
    products: NamedDependency[ProductService],
    reports: NamedDependency[ReportService],
    hub: NamedDependency[EventHub],
    accounts: NamedDependency[AccountService],
) -> GraphQLContext:
    """Litestar resolves this dependency for every GraphQL request and subscription socket."""
    connection: ASGIConnection[Any, Any, Any, Any] = ASGIConnection(scope)
    identity: Identity | None
    credentials: LiveCredentials | None = None
    if scope["type"] == "http":
        identity = scope.get("user")
    else:
        credentials = LiveCredentials(accounts, *secret_sent(connection))
        identity = await _socket_identity(credentials)
    return GraphQLContext(
        services=Services(db, ledger, reservations, products, reports, hub),
        identity=identity,
        header_key=connection.headers.get("idempotency-key"),
        loader=ProductLoader(products),
        accounts=accounts,
        credentials=credentials,
    )


async def identity_in_params(context: GraphQLContext) -> Identity | None:
    """The caller a socket's connection_init names (`{"Authorization": "Bearer …"}`, as GraphQL
    clients send it; a browser's WebSocket cannot send that header, its session cookie goes along)."""
    params = context.connection_params if isinstance(context.connection_params, dict) else {}
    sent = next((str(v) for k, v in params.items() if k.lower() == "authorization"), "")
    if sent[:7].lower() != "bearer " or context.accounts is None:
        return None
    identity: Identity | None = await context.accounts.token_identity(sent[7:].strip())
    if identity is not None:
        context.credentials = LiveCredentials(context.accounts, "token", sent[7:].strip())
    return identity


async def _socket_identity(credentials: LiveCredentials) -> Identity | None:
    if credentials.sent == "token":
        return await credentials.accounts.token_identity(credentials.secret)
    if credentials.sent == "session":
        return await credentials.accounts.session_identity(credentials.secret)
    return None
