"""Request bodies parsed so that no float ever exists: numbers become Decimal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from litestar import Request

from app.domain.errors import FieldError, InvalidInput


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError("body", f"is not valid JSON ({exc})")]) from None
    if not isinstance(value, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    return value
