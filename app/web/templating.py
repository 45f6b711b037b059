"""Jinja2 setup: autoescaped templates and the number/time formats every page uses."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from app.display import Display
from app.domain.access import Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def cost(shown: Display, value: Any) -> Markup | str:
    """An average cost to the currency's precision, with the exact stored figure on hover."""
    if value is None or value == "":
        return ""
    return Markup('<span class="cost" title="{}">{}</span>').format(shown.exact(value), shown.money(value))


def me_of(request: Any) -> Any:
    """The signed-in identity of a template's request (None when nobody is)."""
    return request.scope.get("user") if request is not None else None


def csrf_of(request: Any) -> str:
    me = me_of(request)
    return (me.csrf or "") if me is not None else ""


def template_config(shown: Display) -> TemplateConfig[JinjaTemplateEngine]:
    """Templates with the shop's formats: `shown` is create_app's Display (INVENTORY_LOCALE,
    INVENTORY_CURRENCY, INVENTORY_TIMEZONE), made once."""
    zone = shown.zone

    def when(value: Any, pattern: str | None = None) -> Markup | str:
        """A time in business time, as every page and message names it ('Nov 23, 2026 11:00'), in a
        `<time>` that carries the ISO form; with a strftime `pattern`, that text alone."""
        if not value:
            return ""
        moment = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(zone)
        if pattern is not None:
            return moment.strftime(pattern)
        return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), shown.moment(moment))

    def configure(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.autoescape = True
        # `price`: a unit price as entered (1.005 stays 1.005; 6.9500 is 6.95); `money`: an amount to the cent.
        # `moment`: a time as `when` writes it, as plain text (for an attribute such as a title).
        env.filters.update(money=shown.money, price=shown.exact, cost=partial(cost, shown), units=shown.units,
                           when=when, moment=shown.moment, day=shown.day)  # fmt: skip
        # For scripts that format figures in the browser (data-* attributes): the same locale, currency and
        # precision as the filters, e.g. for Intl.NumberFormat(shop.lang, {style: "currency", currency}).
        shop = {"lang": str(shown.locale).replace("_", "-"), "currency": shown.currency or "",
                "precision": shown.precision}  # fmt: skip
        env.globals.update(zone=str(zone), csrf_of=csrf_of, me_of=me_of, Role=Role, shop=shop)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)
