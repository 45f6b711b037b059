"""Every error answer: a page for a browser that asked for one, else Litestar's error shape
{"status_code", "detail", "extra"}; `audience` alone decides which."""

from __future__ import annotations

import logging
import re
from typing import Literal
from urllib.parse import quote

from litestar import Request, Response
from litestar.exceptions import InternalServerException, ValidationException
from litestar.response import Redirect, Template
from litestar_htmx import ClientRedirect, HTMXDetails

from app.domain.access import LocationRefused
from app.domain.errors import Conflict, DomainError, FieldError, InvalidFile, InvalidInput, KeyReused, NotFound
from app.persistence.database import DatabaseUnavailable, NoConnectionFree, OutcomeUnknown
from app.services.accounts import RateLimited
from app.web.auth import first_run, rejected_token

_STATUS = {InvalidInput: 400, InvalidFile: 400, LocationRefused: 403, NotFound: 404, Conflict: 409, KeyReused: 422}


log = logging.getLogger("stockroom.web")
RETRY_AFTER_SECONDS = 5


def audience(request: Request) -> Literal["htmx", "page", "json"]:
    """Who an error answer is for, decided here for every handler: a page's htmx request (its script
    shows a JSON problem, or follows HX-Redirect), a browser that asked for a page (Accept: text/html)
    outside the API and the event stream, or an API client (JSON)."""
    if HTMXDetails(request):  # error handlers get a plain Request, so not `request.htmx`
        return "htmx"
    if request.scope["path"].startswith(("/api", "/events")):
        return "json"
    return "page" if "text/html" in request.headers.get("accept", "") else "json"


def unavailable_handler(request: Request, exc: Exception) -> Response | Template:
    """The database could not be reached (or no connection came in time): 503, try again shortly.
    Nothing was committed: a connection lost mid-transaction rolls the transaction back."""
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if isinstance(exc, OutcomeUnknown):
        detail = ("The connection to the database was lost while the change was being saved: it may or may "
                  "not have been saved. Send the same request again with the same Idempotency-Key to get "
                  "its result, or look before recording it again.")  # fmt: skip
    elif isinstance(exc, NoConnectionFree):
        detail = ("The server is too busy: no database connection came free in time; nothing was changed. "
                  "Try again in a few seconds.")  # fmt: skip
    elif isinstance(exc, DatabaseUnavailable) and getattr(exc, "detail", None):  # e.g. an import cut half way
        detail = exc.detail  # type: ignore[attr-defined]
    else:
        detail = "The database is not reachable right now; nothing was changed. Try again in a few seconds."
    if audience(request) == "page":
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


def status_of(refused: DomainError) -> int:
    """The status of a refusal: the API's, and a page's that shows it."""
    return next((code for kind, code in _STATUS.items() if isinstance(refused, kind)), 400)


def domain_error_handler(request: Request, exc: Exception) -> Response | Template:
    """JSON for the API; a page for a browser that asked for a page."""
    assert isinstance(exc, DomainError)
    status = status_of(exc)
    if audience(request) == "page":
        return Template(template_name="error.html", context={"status": status, "detail": exc.detail},
                        status_code=status)  # fmt: skip
    return Response({"status_code": status, "detail": exc.detail, "extra": exc.extra}, status_code=status)


def validation_error_handler(request: Request, exc: Exception) -> Response | Template:
    """Litestar's own refusal of a parameter it converts (`?dry_run=maybe`, a path id that is no
    number) in the shape of every other 400: "Invalid input: dry_run: …" with `extra.errors`, not
    Litestar's list of {message, key, source}, so that a client reads one shape of 400."""
    assert isinstance(exc, ValidationException)
    found = exc.extra if isinstance(exc.extra, list) else []
    errors = [FieldError(str(e.get("key") or "request"), _worded(str(e.get("message") or "is not valid")))
              for e in found if isinstance(e, dict)]  # fmt: skip
    return domain_error_handler(request, InvalidInput(errors or [FieldError("request", str(exc.detail))]))


# msgspec's words for the parameter types the routes declare, as the rest of the API words them: its
# bounds first ("Expected `int` <= 5000" is a number too large, not one that is no whole number)
_BOUND = re.compile(r"Expected `(?:int|float)` (<=|>=|<|>) (-?[0-9.]+)")
_BOUND_WORDS = {"<=": "must be at most", ">=": "must be at least", "<": "must be less than", ">": "must be more than"}
_WORDED = {"Expected `bool`": "must be true or false", "Expected `int`": "must be a whole number"}


def _worded(message: str) -> str:
    if bound := _BOUND.match(message):
        return f"{_BOUND_WORDS[bound.group(1)]} {bound.group(2)}"
    return next((words for start, words in _WORDED.items() if message.startswith(start)), message)


def not_authorized_handler(request: Request, exc: Exception) -> Response:
    """Browsers go to the login page (or, before any user exists, to the first-run page); an API client
    (or anyone who sent a token that is not valid) is told how to authenticate."""
    kind, scope = audience(request), request.scope
    if kind != "json" and not rejected_token(scope):
        target = "/setup" if first_run(scope) else f"/login?next={quote(scope['path'])}"
        if kind == "htmx":
            redirect = ClientRedirect(target)
            redirect.status_code = 401
            return redirect
        return Redirect(target, status_code=303)
    detail = getattr(exc, "detail", "Not authorized")
    hint, extra = _how_to_authenticate(first_run(scope))
    return Response({"status_code": 401, "detail": f"{detail}. {hint}", "extra": extra}, status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="stockroom"'})  # fmt: skip


def _how_to_authenticate(first_run: bool) -> tuple[str, dict[str, str]]:
    """What a client without a session or a valid token is told (`curl /` explains itself)."""
    extra = {"header": "Authorization: Bearer <token>", "make_a_token": "inventory token create USERNAME",
             "login": "/login"}  # fmt: skip
    if first_run:
        return ("No user exists yet: open /setup in a browser to create the first administrator (or run "
                "`inventory user create USERNAME --role admin`), then make an API token with "
                "`inventory token create USERNAME`", {**extra, "setup": "/setup"})  # fmt: skip
    return ("Browsers log in at /login; API clients send the header 'Authorization: Bearer <token>' with a token "
            "an administrator makes on /admin or with `inventory token create USERNAME`", extra)  # fmt: skip


def permission_denied_handler(request: Request, exc: Exception) -> Response | Template:
    detail = getattr(exc, "detail", "Forbidden")
    if audience(request) == "page":
        return Template(template_name="error.html", context={"status": 403, "detail": detail}, status_code=403)
    return Response({"status_code": 403, "detail": detail, "extra": {}}, status_code=403)


def rate_limited_handler(request: Request, exc: Exception) -> Response | Template:
    assert isinstance(exc, RateLimited)
    headers = {"Retry-After": str(exc.retry_after)}
    if audience(request) == "page":
        return Template(template_name="login.html", context={"error": exc.detail, "next": "/"}, status_code=429,
                        headers=headers)  # fmt: skip
    return Response({"status_code": 429, "detail": exc.detail, "extra": exc.extra}, status_code=429, headers=headers)
