"""Domain errors in Litestar's error shape: {"status_code", "detail", "extra"}."""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import InternalServerException
from litestar.response import Template

from app.domain.errors import Conflict, DomainError, InvalidFile, InvalidInput, KeyReused, NotFound
from app.persistence.database import DatabaseUnavailable, OutcomeUnknown

_STATUS = {InvalidInput: 400, InvalidFile: 400, NotFound: 404, Conflict: 409, KeyReused: 422}


log = logging.getLogger("stockroom.web")
RETRY_AFTER_SECONDS = 5


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def unavailable_handler(request: Request, exc: Exception) -> Response | Template:
    """The database could not be reached (or no connection came in time): 503, try again shortly.
    Nothing was committed: a connection lost mid-transaction rolls the transaction back."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, OutcomeUnknown):
        detail = ("The connection to the database was lost while the change was being saved: it may or may "
                  "not have been saved. Send the same request again with the same Idempotency-Key to get "
                  "its result, or look before recording it again.")  # fmt: skip
    elif isinstance(exc, DatabaseUnavailable) and getattr(exc, "detail", None):  # e.g. an import cut half way
        detail = exc.detail  # type: ignore[attr-defined]
    else:
        detail = "The database is not reachable right now; nothing was changed. Try again in a few seconds."
    if _wants_page(request):
        return Template(template_name="unavailable.html", context={"detail": detail}, status_code=503,
                        headers=headers)  # fmt: skip
    return Response({"status_code": 503, "detail": detail, "extra": {}}, status_code=503, headers=headers)


def internal_error_handler(request: Request, exc: Exception) -> Response:
    """An unexpected failure: logged with its traceback (Litestar logs nothing by default), answered
    in the API's error shape. Nothing was committed: the transaction rolled back with the error."""
    if isinstance(exc, InternalServerException) and "client disconnected" in str(exc.detail):
        # The client hung up before its body arrived: nothing to answer, nothing went wrong here.
        log.info("%s %s: client disconnected before sending its body", request.method, request.url.path)
    else:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal server error", "extra": {}}, status_code=500)


def domain_error_handler(request: Request, exc: Exception) -> Response | Template:
    """JSON for the API; a page for a browser that asked for a page."""
    assert isinstance(exc, DomainError)
    status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
    if _wants_page(request):
        return Template(template_name="error.html", context={"status": status, "detail": exc.detail},
                        status_code=status)  # fmt: skip
    return Response({"status_code": status, "detail": exc.detail, "extra": exc.extra}, status_code=status)
