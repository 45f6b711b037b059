"""Request bodies: a plain flat body takes the short way, and every other body is still checked."""

import codecs
import random
from decimal import Decimal

import pytest

from app.domain.errors import InvalidInput
from app.web import json_body
from app.web.json_body import object_of

pytestmark = pytest.mark.unit


def test_a_sale_s_body_reads_with_its_numbers_as_decimal() -> None:
    body = b'{"sku":"CEIL-1","type":"SELL","quantity":1,"unit_price":9.99}'
    assert object_of(body) == {"sku": "CEIL-1", "type": "SELL", "quantity": 1, "unit_price": Decimal("9.99")}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"note":"\\ud800"}', "note: must be valid Unicode text"),  # a lone surrogate, escaped
        (b'{"note":"\xed\xa0\x80"}', "note: must be valid Unicode text"),  # the same as bytes
        (b'{"note":"a\\u0000"}', "note: must not contain NUL"),
        (b'{"\\ud800":1}', "has a field name"),
        (b'{"a":{"b":"\\ud800"}}', "a: must be valid Unicode text"),  # nested: the whole tree is walked
        (b'{"sku":"A","sku":"B"}', "sku: is given more than once"),
    ],
)
def test_text_that_cannot_be_stored_is_refused_naming_the_field(body: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        object_of(body)


def test_bodies_json_itself_reads_are_read_as_before() -> None:
    assert object_of(codecs.BOM_UTF8 + b'{"a":1}') == {"a": 1}
    assert object_of('{"a":"x"}'.encode("utf-16")) == {"a": "x"}


def _long_way_bytes(body: bytes) -> object:
    """What `parse` makes of a body the long way (the stdlib decoder and its checks): given a
    bytearray, the short way is never taken."""
    try:
        value = json_body.parse(bytearray(body))  # not bytes: never the short way
    except InvalidInput as refused:
        return ("refused", str(refused.extra))
    return value


def test_the_short_way_reads_every_flat_body_as_the_long_way_does() -> None:
    # Keys from a small set (so some bodies give one twice), every kind of scalar, text with quotes,
    # colons, braces and non-ASCII, JSON's four whitespace characters anywhere, and a few broken bodies.
    rng = random.Random(7)
    keys = ["sku", "type", "quantity", "unit_price", "note", "a:b", "é"]
    scalars = ['"x"', '"a \\"q\\": 1"', '":"', '"{}"', '"ünï 🙂"', "1", "-0", "12345678901234567890123", "9.99",
               "1e400", "-0.0", "true", "false", "null", '""', "[1]", '{"n":1}', "NaN", "01", '"\t"']  # fmt: skip
    space = ["", " ", "\t", "\n", "\r", "  "]
    for _ in range(20_000):
        pairs = [
            f'{rng.choice(space)}"{rng.choice(keys)}"{rng.choice(space)}:{rng.choice(space)}{rng.choice(scalars)}'
            for _ in range(rng.randint(0, 5))
        ]
        text = "{" + ",".join(pairs) + rng.choice(space) + "}" + rng.choice(["", "", " ", "x", ","])
        body = text.encode()
        try:
            short = json_body.parse(body)
        except InvalidInput as refused:
            short = ("refused", str(refused.extra))
        long = _long_way_bytes(body)
        assert repr(short) == repr(long), text  # repr: True == 1 and Decimal("1.0") == 1 for ==


def test_a_key_given_twice_is_refused_on_the_short_way_too() -> None:
    for body in (b'{"sku":"A","sku":"B"}', b'{"sku":"A", "sku" :"B"}', b'{"a":1,"b":2,"a":1}'):
        with pytest.raises(InvalidInput, match="is given more than once"):
            json_body.parse(body)


def test_the_short_way_is_taken_by_a_sale_s_body() -> None:
    assert json_body._flat_object(b'{"sku":"CEIL-1","type":"SELL","quantity":1,"unit_price":"9.99"}') == {
        "sku": "CEIL-1", "type": "SELL", "quantity": 1, "unit_price": "9.99",
    }  # fmt: skip
    assert json_body._flat_object(b'{"note":"a\\"b"}') is None  # an escape: the long way
