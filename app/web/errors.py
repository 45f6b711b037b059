"""Domain errors in Litestar's error shape: {"status_code", "detail", "extra"}."""

from __future__ import annotations

from litestar import Request, Response
from litestar.response import Template

from app.domain.errors import Conflict, DomainError, InvalidFile, InvalidInput, KeyReused, NotFound

_STATUS = {InvalidInput: 400, InvalidFile: 400, NotFound: 404, Conflict: 409, KeyReused: 422}


def domain_error_handler(request: Request, exc: Exception) -> Response | Template:
    """JSON for the API; a page for a browser that asked for a page."""
    assert isinstance(exc, DomainError)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    if not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", ""):
        return Template(template_name="error.html", context={"status": status, "detail": exc.detail},
                        status_code=status)  # fmt: skip
    return Response({"status_code": status, "detail": exc.detail, "extra": exc.extra}, status_code=status)
