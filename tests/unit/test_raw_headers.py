"""The API's headers read straight from the scope: as Litestar's `request.headers` reads them."""

import pytest
from litestar.exceptions import ClientException

from app.web.raw_headers import RawHeaderRequest, first_header, header_values

pytestmark = pytest.mark.unit


def scope(*headers: tuple[bytes, bytes]) -> dict:
    return {"type": "http", "method": "POST", "path": "/", "headers": list(headers), "state": {}}


def test_a_header_is_found_whatever_the_case_of_its_name_and_the_first_value_wins() -> None:
    sent = scope((b"Authorization", b"Bearer one"), (b"authorization", b"Bearer two"), (b"host", b"x"))
    assert first_header(sent, b"authorization") == "Bearer one"
    assert header_values(sent, b"authorization") == ["Bearer one", "Bearer two"]
    assert first_header(sent, b"idempotency-key") is None
    assert header_values(sent, b"idempotency-key") == []


def test_values_are_latin_1_as_http_sends_them() -> None:
    assert first_header(scope((b"idempotency-key", "clé".encode("latin-1"))), b"idempotency-key") == "clé"


def test_the_body_length_is_read_from_its_header_and_a_wrong_one_refused() -> None:
    assert RawHeaderRequest(scope((b"content-length", b"66"))).content_length == 66
    assert RawHeaderRequest(scope()).content_length is None
    with pytest.raises(ClientException, match="Invalid content-length"):
        _ = RawHeaderRequest(scope((b"content-length", b"sixty"))).content_length
