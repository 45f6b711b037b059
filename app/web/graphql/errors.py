"""How the GraphQL transport answers what the services refuse.

- A business rule (a Conflict: not enough available, a reservation already confirmed; or an unknown
  SKU) is an answer, not an error: `success: false` with the message, as seed 001's clients expect.
- Malformed input (InvalidInput from the domain's parsers) is a GraphQL error naming the argument
  as the schema spells it (`skuId`, not `sku`), with code BAD_USER_INPUT.
- No credentials, or too low a role, is a GraphQL error with code UNAUTHENTICATED or FORBIDDEN and
  the same message the REST API gives (app.web.auth)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from graphql import GraphQLError
from litestar.exceptions import PermissionDeniedException

from app.domain.access import LocationRefused, Role
from app.domain.errors import FieldErrors, InvalidInput, KeyReused
from app.intake.requests import sku as parse_sku
from app.services.accounts import Identity
from app.web.auth import allow
from app.web.graphql.context import GraphQLContext


def bad_input(errors: list[tuple[str, str]]) -> GraphQLError:
    detail = "; ".join(f"{name}: {message}" for name, message in errors)
    return GraphQLError(
        f"Invalid argument {detail}",
        extensions={"code": "BAD_USER_INPUT", "arguments": [{"argument": n, "message": m} for n, m in errors]},
    )


@contextmanager
def arguments(names: Mapping[str, str] | None = None) -> Iterator[None]:
    """InvalidInput raised inside becomes a GraphQL error naming the arguments (`names` maps the
    services' field names to the schema's argument names); a refused role becomes FORBIDDEN."""
    names = names or {}
    try:
        yield
    except InvalidInput as invalid:
        raise bad_input([(names.get(e.field, _camel(e.field)), e.message) for e in invalid.errors]) from None
    except KeyReused as reused:
        raise bad_input([("idempotencyKey", reused.detail)]) from None
    except PermissionDeniedException as denied:
        raise GraphQLError(str(denied.detail), extensions={"code": "FORBIDDEN"}) from None
    except LocationRefused as refused:  # a user limited to one location naming another (REST's 403)
        raise GraphQLError(refused.detail, extensions={"code": "FORBIDDEN", **refused.extra}) from None


def signed_in(context: GraphQLContext) -> Identity:
    identity: Identity | None = context.identity
    if identity is None:
        raise GraphQLError("Log in, or send an API token", extensions={"code": "UNAUTHENTICATED"})
    return identity


def permitted(context: GraphQLContext, role: Role, why: str) -> Identity:
    """The caller, who holds at least `role`; FORBIDDEN otherwise (REST's rule and message)."""
    identity = signed_in(context)
    with arguments():
        allow(identity, role, why)
    return identity


def checked_sku(raw: str, argument: str = "skuId") -> str:
    """A SKU argument as the domain spells SKUs: anything else names the argument."""
    errors = FieldErrors()
    code = parse_sku(errors, raw)
    if code is None:
        raise bad_input([(argument, e.message) for e in errors.errors])
    return code


def checked_range(value: int, argument: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise bad_input([(argument, f"must be between {low} and {high}")])
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
