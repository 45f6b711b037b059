"""Domain errors in Litestar's error shape: {"status_code", "detail", "extra"}."""

from __future__ import annotations

from litestar import Request, Response

from app.domain.errors import Conflict, DomainError, InvalidFile, InvalidInput, NotFound

_STATUS = {InvalidInput: 400, InvalidFile: 400, NotFound: 404, Conflict: 409}


def domain_error_handler(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    return Response({"status_code": status, "detail": exc.detail, "extra": exc.extra}, status_code=status)
