"""`Idempotency-Key` for the API's other mutating POSTs: the change and its stored answer commit together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response

from app.services import idempotency
from app.services.database import unit_of_work
from app.web.auth import identity_of, scope_of


async def once(
    request: Request[Any, Any, Any], fields: dict[str, Any], run: Callable[[], Awaitable[Response[Any]]]
) -> Response[Any]:
    """Run `run` at most once per key. The services' own transactions nest into the one opened
    here, so the key, the change and the stored response commit (or roll back) together."""
    me = identity_of(request)
    key = idempotency.key_for(request.headers.get("idempotency-key"), fields, scope_of(me)) if me else None
    if key is None:
        return await run()
    if earlier := await idempotency.stored(key):
        return replay(earlier)
    async with unit_of_work() as conn:
        owned = bool(await idempotency.claim(conn, [key]))  # waits while another request holds the key
        if owned:
            response = await run()
            await idempotency.keep(conn, [(key, response.status_code or 200, response.content)])
            return response
    earlier = await idempotency.stored(key)
    assert earlier is not None
    return replay(earlier)


def replay(earlier: idempotency.Stored) -> Response[Any]:
    return Response(earlier.body, status_code=earlier.status_code, headers={"Idempotent-Replayed": "true"})
