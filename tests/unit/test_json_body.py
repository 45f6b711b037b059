"""Request bodies: a plain flat body takes the short way, and every other body is still checked."""

import codecs
from decimal import Decimal

import pytest

from app.domain.errors import InvalidInput
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
