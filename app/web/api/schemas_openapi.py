"""How each API operation is written into `/schema/openapi.json`: its answers, success and errors alike,
with their bodies (`app.web.api.schemas`), and the headers Litestar cannot declare from a signature."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Parameter,
    RequestBody,
    Schema,
    SecurityScheme,
)

from app.domain.access import Role
from app.web.api.schemas import ConflictError, Error, InvalidRequest

OPENAPI = OpenAPIConfig(
    title="Stockroom",
    version="0.1.0",
    path="/schema",
    components=Components(
        security_schemes={
            "token": SecurityScheme(
                type="http",
                scheme="bearer",
                description="An API token: `inventory token create USERNAME`, or made by an admin on /admin "
                "(a browser's signed-in session works too)",
            )
        }
    ),
    security=[{"token": []}],
)

_ERRORS: dict[int, tuple[type[Any], str]] = {
    400: (InvalidRequest, "Bad input: every wrong field (or query parameter) is named; nothing was changed"),
    401: (Error, "No valid session or API token; `extra` says how to send one and how to make one"),
    403: (Error, "The caller's role may not do this; `detail` says why"),
    404: (Error, "No such product, transaction, reservation or report"),
    409: (ConflictError, "A ledger rule would break (named in `extra`); nothing was changed"),
    413: (Error, "The body is larger than this operation takes"),
    422: (Error, "The Idempotency-Key was used before with a different request"),
    429: (Error, "Too many attempts; try again after Retry-After seconds"),
    503: (Error, "The database is not reachable now; try again after Retry-After seconds"),
}
# Every API operation may answer these: a bad query or path parameter, no credentials, no database.
_ALWAYS = (400, 401, 503)


def answers(
    success: dict[int, tuple[Any, str]], *errors: int, role: Role | None = None, media_type: str = "application/json"
) -> dict[int, ResponseSpec]:
    """`responses=` of a route: each success status with its body type (None: no body) and what it
    means, then the errors it can answer besides those of every operation; `role`, the least role that
    may call it (its 403 says so)."""
    specs = {
        status: ResponseSpec(data_container=body, description=meaning, generate_examples=False, media_type=media_type)
        for status, (body, meaning) in success.items()
    }
    for status in sorted({*_ALWAYS, *errors, *([403] if role else [])}):
        body, meaning = _ERRORS[status]
        if status == 403 and role is not None:
            meaning = f"Only a {role.label} (or a role above it) may do this. " + meaning
        specs[status] = ResponseSpec(data_container=body, description=meaning, generate_examples=False)
    return specs


_RETRY_AFTER = OpenAPIHeader(
    schema=Schema(type=OpenAPIType.INTEGER, minimum=1), description="seconds to wait before trying again"
)
_IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",  # type: ignore[arg-type]
    required=False,
    description="Any text unique to this change: sent again (a retry after a lost answer), the first answer is "
    "replayed with `Idempotent-Replayed: true` and nothing is done twice; with another request it is a 422",
    schema=Schema(type=OpenAPIType.STRING),
)


_CSV = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description="the rows as CSV, a header line first"))


def _takes_csv(parameters: list[Any] | None) -> bool:
    """Whether an operation has a `format` parameter that may be `csv`."""
    for p in parameters or []:
        if isinstance(p, Parameter) and p.name == "format" and isinstance(p.schema, Schema):
            choices = [p.schema, *(s for s in p.schema.one_of or [] if isinstance(s, Schema))]
            if any("csv" in (c.enum or []) or c.const == "csv" for c in choices):
                return True
    return False


@dataclass
class ApiOperation(Operation):
    """An API operation: its 429 and 503 answers carry Retry-After; with `format=csv` its 200 answer
    is text/csv as well as JSON (a ResponseSpec holds one media type, so the second is added here)."""

    def __post_init__(self) -> None:
        for status in ("429", "503"):
            answer = (self.responses or {}).get(status)
            if isinstance(answer, OpenAPIResponse):
                answer.headers = {**(answer.headers or {}), "Retry-After": _RETRY_AFTER}
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and _takes_csv(self.parameters):
            ok.content = {**(ok.content or {}), "text/csv": _CSV}


@dataclass
class KeyedOperation(ApiOperation):
    """A change that takes an Idempotency-Key."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.parameters = [*(self.parameters or []), _IDEMPOTENCY_KEY]


@dataclass
class CsvUpload(KeyedOperation):
    """POST /api/import: the body is a CSV file, streamed to disk as it arrives (so no `data` parameter
    declares it)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.request_body = RequestBody(
            required=True,
            description="The transactions as CSV (UTF-8, a header row first); the columns are listed on /import",
            content={"text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))},
        )
