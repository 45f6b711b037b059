"""Request bodies parsed so that no float ever exists: numbers become Decimal.

A body is also refused (400) where json.loads would otherwise choose for us or something would fail
later: a key given twice (json.loads keeps the last, so a second `"type"` could record a BUY the
client did not mean), nesting deeper than any request needs (a RecursionError, or one later in
whatever walks the value), and text that cannot be stored (a NUL, or a lone surrogate such as
`"\\ud800"`: valid JSON, but no character, so encoding it for the database or the response fails).
"""

from __future__ import annotations

import codecs
import json
import re
from collections import deque
from collections.abc import Generator
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec
from litestar import Request
from litestar.dto import AbstractDTO, DTOFieldDefinition
from litestar.openapi.spec import Reference, Schema
from litestar.typing import FieldDefinition

from app.domain.errors import FieldError, FieldErrors, InvalidInput
from app.intake.fields import unstorable

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator

MAX_DEPTH = 16  # every body is a flat object; room to spare, and far from Python's recursion limit


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)  # built in C; only a body with a key given twice is walked to name it
    if len(value) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return value


def _whole_number(text: str) -> int | Decimal:
    """A JSON integer; past the digits int() reads (4,300) a Decimal, which the field refuses by name."""
    return int(text) if len(text) <= 4000 else Decimal(text)


# Made once: json.loads with these options builds a new decoder for every body.
_DECODER = json.JSONDecoder(
    parse_float=Decimal, parse_int=_whole_number, parse_constant=_no_constants, object_pairs_hook=_unique_keys
)


def parse(raw: bytes) -> Any:
    """The JSON value of a body; InvalidInput naming the field (or `body`) that is wrong."""
    if (flat := _flat_object(raw)) is not None:
        return flat
    try:
        text, plain = _text_of(raw)
        value = _DECODER.decode(text)
    except _DuplicateKey as twice:
        raise InvalidInput([FieldError(_printable(twice.key), "is given more than once")]) from None
    except RecursionError:
        raise InvalidInput([FieldError("body", f"is nested more than {MAX_DEPTH} levels deep")]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput([FieldError("body", f"is not valid JSON ({exc})")]) from None
    if not (plain and isinstance(value, dict) and all(type(v) in _SCALARS for v in value.values())):
        _check_tree(value)  # a flat object of plain text (every sale) has nothing it could find
    return value


_SCALARS = frozenset({str, int, Decimal, bool, type(None)})
_FLAT = msgspec.json.Decoder(float_hook=Decimal)
_KEY_END = re.compile(rb'"[ \t\n\r]*:')
_NOT_PLAIN = re.compile(rb"[\\\x00]")  # a backslash (an escape) or a NUL


def _flat_object(raw: bytes) -> dict[str, Any] | None:
    """Every sale's body, read by msgspec in C (1.8 µs in all, against 3.0): a flat object of scalars whose
    text has no backslash, NUL or BOM. Then no string holds an escape, so a `"` followed by `:` ends a
    key and nothing else; as many of them as keys read means no key was given twice (msgspec keeps
    the last). Anything else, or anything msgspec refuses, is None: `parse` reads it and names what
    is wrong."""
    if type(raw) is not bytes or _NOT_PLAIN.search(raw) or raw[:3] == codecs.BOM_UTF8:
        return None
    try:
        value = _FLAT.decode(raw)
    except Exception:  # msgspec.DecodeError, UnicodeDecodeError: parse says why
        return None
    if type(value) is not dict or not _SCALARS.issuperset(map(type, value.values())):
        return None
    return value if len(_KEY_END.findall(raw)) == len(value) else None


def _text_of(raw: bytes | bytearray | str) -> tuple[str, bool]:
    """The body's text, as json.loads reads bytes, and whether it is plain: UTF-8 without a BOM, a
    NUL or any \\u escape, so that none of its strings can hold a NUL or a lone surrogate."""
    if isinstance(raw, str):
        return raw, False
    if b"\\u" not in raw and b"\x00" not in raw and not raw.startswith(codecs.BOM_UTF8):
        try:
            return raw.decode("utf-8"), True
        except UnicodeDecodeError:  # not UTF-8, or surrogates written as bytes
            pass
    return raw.decode(json.detect_encoding(raw), "surrogatepass"), False


async def json_object(request: Request) -> dict[str, Any]:
    return object_of(await request.body())


def object_of(raw: bytes) -> dict[str, Any]:
    """A body that must be a JSON object (an empty one means `{}`)."""
    if not raw.strip():
        return {}
    value = parse(raw)
    if not isinstance(value, dict):
        raise InvalidInput([FieldError("body", "must be a JSON object")])
    return value


T = TypeVar("T")


class JsonBody(AbstractDTO[T], Generic[T]):
    """`dto=JsonBody[NewTransaction]`: the handler's `data` is the body read by `object_of` (a dict, numbers
    as Decimal, refused as above), and OpenAPI documents the body as `NewTransaction`.

    Nothing converts the dict into the Struct: the handler hands it to the domain, which checks every
    field and names each wrong one (400), takes the lenient forms it always took ("buy", "3"), and keeps
    the raw fields an idempotency fingerprint is made of. The Struct is the documented contract."""

    @classmethod
    def generate_field_definitions(cls, model_type: type[Any]) -> Generator[DTOFieldDefinition, None, None]:
        yield from ()  # no transfer model: the body is not converted

    @classmethod
    def detect_nested_field(cls, field_definition: FieldDefinition) -> bool:
        return False

    @classmethod
    def create_for_field_definition(cls, field_definition: FieldDefinition, handler_id: str,
                                    backend_cls: Any = None) -> None:  # fmt: skip
        """No DTO backend: `decode_bytes` below reads the body itself."""

    @classmethod
    def create_openapi_schema(
        cls, field_definition: FieldDefinition, handler_id: str, schema_creator: SchemaCreator
    ) -> Reference | Schema:
        return schema_creator.for_field_definition(FieldDefinition.from_annotation(cls.model_type))

    def decode_bytes(self, value: bytes) -> dict[str, Any]:
        return object_of(value)

    def decode_builtins(self, value: dict[str, Any]) -> Any:
        raise NotImplementedError("JsonBody reads JSON bodies only")


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
