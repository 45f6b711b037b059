"""Small helpers shared by the page controllers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.response import Redirect, Template
from litestar_htmx import HTMXTemplate, ReSwapMethod

from app.display import Display
from app.domain.errors import DomainError
from app.web.app_services import services_of

# The fields of the pages' forms that hold a price: typed the shop's way (Display.typed_decimal).
PRICE_FIELDS = ("unit_price", "sell_price")


async def form_data(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """A form's fields, a price read as the shop writes numbers ("4,50" in a German shop)."""
    form = await request.form()
    values = {k: form.get(k) for k in form}
    shown: Display = services_of(request).display
    for name in PRICE_FIELDS:
        typed = values.get(name)
        if isinstance(typed, str):
            values[name] = shown.typed_decimal(typed)
    return values


def problem(exc: DomainError) -> dict[str, Any]:
    """A rejection as templates show it: the message, and the fields it names."""
    fields = {e["field"]: e["message"] for e in exc.extra.get("errors", []) if "field" in e}
    # The later transaction a history edit would break (its id): the product page marks its row.
    return {"message": exc.detail, "fields": fields, "breaks": exc.extra.get("transaction_id")}


def see_other(url: str) -> Redirect:
    return Redirect(url, status_code=303)


def page(
    template: str,
    status_code: int = 200,
    *,
    retarget: str | None = None,
    reswap: ReSwapMethod | None = None,
    **context: Any,
) -> Template:
    """A page or, for htmx, a part of one; `retarget` and `reswap` tell htmx to put it elsewhere than the
    element that asked (HX-Retarget, HX-Reswap)."""
    if retarget is None and reswap is None:
        return Template(template_name=template, context=context, status_code=status_code)
    return HTMXTemplate(template_name=template, context=context, status_code=status_code, re_target=retarget,
                        re_swap=reswap)  # fmt: skip
