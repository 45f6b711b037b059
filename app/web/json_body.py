"""Request bodies parsed so that no float ever exists: numbers become Decimal.

A body is also refused (400) where json.loads would otherwise choose for us or something would fail
later: a key given twice (json.loads keeps the last, so a second `"type"` could record a BUY the
client did not mean), nesting deeper than any request needs (a RecursionError, or one later in
whatever walks the value), and text that cannot be stored (a NUL, or a lone surrogate such as
`"\\ud800"`: valid JSON, but no character, so encoding it for the database or the response fails).
"""

from __future__ import annotations

import json
from collections import deque
from decimal import Decimal
from typing import Any

from litestar import Request

from app.domain.errors import FieldError, FieldErrors, InvalidInput
from app.domain.fields import unstorable

MAX_DEPTH = 16  # every body is a flat object; room to spare, and far from Python's recursion limit


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _DuplicateKey(key)
        value[key] = item
    return value


def parse(raw: bytes) -> Any:
    """The JSON value of a body; InvalidInput naming the field (or `body`) that is wrong."""
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except _DuplicateKey as twice:
        raise InvalidInput([FieldError(_printable(twice.key), "is given more than once")]) from None
    except RecursionError:
        raise InvalidInput([FieldError("body", f"is nested more than {MAX_DEPTH} levels deep")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError("body", f"is not valid JSON ({exc})")]) from None
    _check_tree(value)
    return value


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    value = parse(raw)
    if not isinstance(value, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    return value


def _check_tree(value: Any) -> None:
    """Depth, and storable text in every key and string, walked without recursion; each bad top-level
    field is named once."""
    errors, named = FieldErrors(), set()
    todo: deque[tuple[Any, int, str]] = deque([(value, 1, "body")])
    while todo:
        node, depth, field = todo.popleft()  # breadth first: fields are named in the body's order
        if depth > MAX_DEPTH:
            raise InvalidInput([FieldError("body", f"is nested more than {MAX_DEPTH} levels deep")])
        problem = None
        if isinstance(node, dict):
            for key, item in node.items():
                if (bad_key := unstorable(key)) and field not in named:
                    errors.add("body" if depth == 1 else field, f"has a field name {ascii(key)} that {bad_key}")
                    named.add(field)
                todo.append((item, depth + 1, _printable(key) if depth == 1 else field))
        elif isinstance(node, list):
            todo.extend((item, depth + 1, field) for item in node)
        elif isinstance(node, str):
            problem = unstorable(node)
        if problem and field not in named:
            errors.add(field, problem)
            named.add(field)
    errors.raise_if_any()


def _printable(key: str) -> str:
    """A field name as it can be shown back (a lone surrogate cannot even be written in the response)."""
    return key if unstorable(key) is None else ascii(key)
