"""`Idempotency-Key` on the API's mutating POSTs: the REST transport of the idempotency service.

The service runs a change at most once per key and hands back its typed outcome: this request's, or
(replayed) the one the first request kept. Here an outcome becomes the API's answer, the same for a
first request and a replay, which also carries `Idempotent-Replayed: true`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request

from app.domain.errors import FieldError, InvalidInput
from app.persistence.locations import LocationRecord
from app.services import idempotency
from app.services.accounts import Identity
from app.services.catalogue_csv import ImportResult
from app.services.idempotency import Key
from app.services.outcomes import Change, Confirmed, EarlierAnswer, Held, Refused, Voided
from app.services.records import ProductRecord, ReservationRecord
from app.web.app_services import services_of
from app.web.auth import scope_of
from app.web.json_answer import JsonAnswer
from app.web.raw_headers import header_values
from app.web.views import (
    committed_view,
    confirmed_view,
    location_view,
    product_view,
    reservation_view,
    voided_view,
)

O = TypeVar("O")
EMPTY_KEY = "is empty: send a key (up to 200 characters, the same on every retry), or none"


def key_of(request: Request[Any, Any, Any], fields: dict[str, Any], raw_key: str | None = None) -> Key | None:
    me: Identity | None = request.user  # every keyed route declares a role
    raw = raw_key if raw_key is not None else _key_header(request)
    return idempotency.key_for(raw, fields, scope_of(me)) if me else None


def _key_header(request: Request[Any, Any, Any]) -> str | None:
    """The request's one Idempotency-Key; two are refused (which one would the client mean?)."""
    sent = header_values(request.scope, b"idempotency-key")
    if len(sent) > 1:
        raise InvalidInput([FieldError("idempotency_key", "is given more than once (send one Idempotency-Key header)")])
    if sent and not sent[0].strip():  # taken as no key, a retry would do it twice
        raise InvalidInput([FieldError("idempotency_key", EMPTY_KEY)])
    return sent[0] if sent else None


async def once(
    request: Request[Any, Any, Any],
    fields: dict[str, Any],
    kind: type[O],
    run: Callable[[Key | None], Awaitable[O]],
    *,
    alone: bool = False,
) -> JsonAnswer:
    """Run `run(key)` at most once per key (`run` hands the key to the service, which keeps the
    outcome, of type `kind`, with its change) and answer its outcome, or the first request's."""
    answer = await idempotency.once(services_of(request).db, key_of(request, fields), kind, run, alone=alone)
    status, body = rest_answer(answer.outcome)
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else None
    return JsonAnswer(body, status, headers)


def rest_answer(outcome: object) -> tuple[int, Any]:
    """The status and JSON body the API answers an outcome with."""
    match outcome:
        case Change():
            return 201, committed_view(outcome)
        case Voided():
            return 200, voided_view(outcome)
        case ProductRecord():
            return 201, product_view(outcome)
        case Held():
            return (201 if outcome.created else 200), reservation_view(outcome.reservation)
        case Confirmed():
            return 200, confirmed_view(outcome)
        case ReservationRecord():
            return 200, reservation_view(outcome)  # cancelled
        case LocationRecord():
            return 201, location_view(outcome)
        case ImportResult():
            return 201, outcome.view()
        case Refused():  # as the error handler answers a Conflict, or an InvalidInput
            status = 400 if outcome.invalid else 409
            return status, {"status_code": status, "detail": outcome.detail, "extra": outcome.extra}
        case EarlierAnswer():
            return outcome.status_code, outcome.body
    raise TypeError(f"no API answer for {type(outcome).__name__}")


def recorded_body(outcome: Change | EarlierAnswer) -> dict[str, Any]:
    """A recorded transaction as the entry forms show it: the API's body (an answer kept before keys
    kept outcomes is that body already)."""
    return outcome.body if isinstance(outcome, EarlierAnswer) else committed_view(outcome)
