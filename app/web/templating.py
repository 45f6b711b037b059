"""Jinja2 setup: autoescaped templates and the number/time formats every page uses."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig
from markupsafe import Markup

from app.display import shop_display
from app.domain.access import Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def money(value: Any) -> str:
    """An amount in the shop's currency and locale (INVENTORY_CURRENCY, INVENTORY_LOCALE); '' for none."""
    return shop_display().money(value)


def cost(value: Any) -> Markup | str:
    """An average cost to the currency's precision, with the exact stored figure on hover."""
    shown = shop_display()
    if value is None or value == "":
        return ""
    return Markup('<span class="cost" title="{}">{}</span>').format(shown.exact(value), shown.money(value))


def units(value: Any) -> str:
    return shop_display().units(value)


def me_of(request: Any) -> Any:
    """The signed-in identity of a template's request (None when nobody is)."""
    return request.scope.get("user") if request is not None else None


def csrf_of(request: Any) -> str:
    me = me_of(request)
    return (me.csrf or "") if me is not None else ""


def template_config(zone: tzinfo) -> TemplateConfig[JinjaTemplateEngine]:
    def when(value: Any, pattern: str | None = None) -> Markup | str:
        """A time in business time, as every page and message names it ('Nov 23, 2026 11:00'), in a
        `<time>` that carries the ISO form; with a strftime `pattern`, that text alone."""
        if not value:
            return ""
        moment = (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(zone)
        if pattern is not None:
            return moment.strftime(pattern)
        return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), shop_display().moment(moment))

    def day(value: Any) -> str:
        return shop_display().day(value)

    def configure(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.autoescape = True
        env.filters.update(money=money, cost=cost, units=units, when=when, day=day)
        shown = shop_display()
        # For scripts that format figures in the browser (data-* attributes): the same locale, currency and
        # precision as the filters, e.g. for Intl.NumberFormat(shop.lang, {style: "currency", currency}).
        shop = {"lang": str(shown.locale).replace("_", "-"), "currency": shown.currency or "",
                "precision": shown.precision}  # fmt: skip
        env.globals.update(zone=str(zone), csrf_of=csrf_of, me_of=me_of, Role=Role, shop=shop)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)
