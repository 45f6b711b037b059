"""Small helpers shared by the page controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect, Template

from app.domain.errors import DomainError


def is_htmx(request: Request[Any, Any, Any]) -> bool:
    return request.headers.get("hx-request") == "true"


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    form = await request.form()
    return {k: form.get(k) for k in form}


def problem(exc: DomainError) -> dict[str, Any]:
    """A rejection as templates show it: the message, and the fields it names."""
    fields = {e["field"]: e["message"] for e in exc.extra.get("errors", []) if "field" in e}
    return {"message": exc.detail, "fields": fields}


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303)


def page(template: str, status_code: int = 200, **context: Any) -> Template:
    return Template(template_name=template, context=context, status_code=status_code)
