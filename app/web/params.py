"""Every query and path parameter of every route checked in one place, before a handler runs.

Handlers pass these values straight to SQL. Text PostgreSQL cannot store (a NUL from `%00`) failed
there as a 500 — or, for the streamed CSV export, after the 200 had already gone out — and an integer
past what bigint arithmetic holds (`/api/transactions/9223372036854775808`, `?offset=`, `?page_no=`)
overflowed in asyncpg. Both are the client's mistake: a 400 naming the parameter (SPEC §3). So is a
parameter the route takes one of, given twice (`?limit=2&limit=3`): which did the client mean?
Litestar would quietly take the last.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from litestar.connection import ASGIConnection
from litestar.constants import RESERVED_KWARGS
from litestar.handlers.base import BaseRouteHandler
from litestar.params import ParameterKwarg
from litestar.types import ASGIApp, Receive, Scope, Send

from app.domain.errors import FieldErrors
from app.intake.fields import unstorable

# The largest integer every JSON client holds exactly. Ids are bigserial and never get near it, and
# offsets or page numbers this large still multiply by a page size without overflowing a bigint.
MAX_URL_INTEGER = 2**53 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")


def checked_params(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            _check(scope)
        await app(scope, receive, send)

    return middleware


def _check(scope: Scope) -> None:
    errors = FieldErrors()
    for name, value in scope.get("path_params", {}).items():
        _check_value(errors, name, value)
        if isinstance(value, int) and not isinstance(value, bool) and not _written_in_ascii(scope["path"], value):
            errors.add(name, "must be written with the digits 0-9 only")
    if scope.get("query_string"):
        integers, singles = _query_params(scope["route_handler"])
        seen: set[str] = set()
        for name, text in ASGIConnection(scope).query_params.multi_items():
            if problem := unstorable(name):
                errors.add("query", f"has a parameter name {ascii(name)} that {problem}")
            elif name in seen and name in singles:
                errors.add(name, "is given more than once (send it once)")
            elif name in integers and _INTEGER.fullmatch(text):
                _check_value(errors, name, _as_int(text))
            else:
                _check_value(errors, name, text)
            seen.add(name)
    errors.raise_if_any()


def _check_value(errors: FieldErrors, name: str, value: Any) -> None:
    if isinstance(value, str) and (problem := unstorable(value)):
        errors.add(name, problem)
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_URL_INTEGER:
        errors.add(name, f"must be between {-MAX_URL_INTEGER} and {MAX_URL_INTEGER}")


def _written_in_ascii(path: str, value: int) -> bool:
    """Litestar reads an int path parameter with int(), which also takes "１２", "1_2" and " 12 ";
    the query parameters refuse those, and so must the path: some segment must be the plain digits."""
    return str(value) in path.split("/") or f"-{abs(value)}" in path.split("/")


def _as_int(text: str) -> int:
    digits = text.lstrip("+-")
    # int() of thousands of digits is slow (and refused past 4300): anything this long is too large anyway
    return MAX_URL_INTEGER + 1 if len(digits) > len(str(MAX_URL_INTEGER)) else int(text)


@cache
def _query_params(handler: BaseRouteHandler) -> tuple[frozenset[str], frozenset[str]]:
    """The names this handler's parameters go by in a URL: those it declares as `int` (or `int |
    None`; other text stays text), and those it takes one value of (not a list). A name it does not
    declare is in neither: it is not read."""
    integers, singles = set(), set()
    not_from_the_url = RESERVED_KWARGS | handler.resolve_dependencies().keys()
    for name, field in handler.parsed_fn_signature.parameters.items():
        if name in not_from_the_url:
            continue
        # a parameter's alias (QueryParameter(name="page"); the older Parameter(query="page") sets it too)
        alias = field.kwarg_definition.name if isinstance(field.kwarg_definition, ParameterKwarg) else None
        kinds = field.inner_types if field.is_optional else (field,)
        if any(kind.annotation is int for kind in kinds):
            integers.add(alias or name)
        if not any(kind.is_non_string_collection for kind in kinds):
            singles.add(alias or name)
    return frozenset(integers), frozenset(singles)
