"""`Idempotency-Key` on the API's mutating POSTs: the transport's half of the idempotency service.

The service claims the key inside its own transaction, after its locks, and stores the answer with
the change; here a stored answer is replayed before any work, and a key found claimed during the
work (`Repeated`) is answered with what the first request stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from app.services import idempotency
from app.services.idempotency import Key, Repeated
from app.web.auth import identity_of, scope_of


def key_of(request: Request[Any, Any, Any], fields: dict[str, Any], raw_key: str | None = None) -> Key | None:
    me = identity_of(request)
    raw = raw_key if raw_key is not None else request.headers.get("idempotency-key")
    return idempotency.key_for(raw, fields, scope_of(me)) if me else None


async def once(
    request: Request[Any, Any, Any], fields: dict[str, Any], run: Callable[[Key | None], Awaitable[Response[Any]]]
) -> Response[Any]:
    """Run `run(key)` at most once per key; `run` hands the key to the service that stores the answer."""
    key = key_of(request, fields)
    if key is not None and (earlier := await idempotency.stored(key)):
        return replay(earlier)
    try:
        return await run(key)
    except Repeated as repeat:
        return replay(await stored_answer(repeat.key))


async def stored_answer(key: Key) -> idempotency.Stored:
    earlier = await idempotency.stored(key)
    assert earlier is not None, "a claimed key is stored with its answer in the same transaction"
    return earlier


def replay(earlier: idempotency.Stored) -> Response[Any]:
    return Response(earlier.body, status_code=earlier.status_code, headers={"Idempotent-Replayed": "true"})
