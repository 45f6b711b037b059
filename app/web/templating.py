"""Jinja2 setup: autoescaped templates and the number/time formats every page uses."""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from app.domain.access import Role

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def money(value: Any) -> str:
    """Money to 2 places with thousands separators; '' for none."""
    if value is None or value == "":
        return ""
    return f"{Decimal(value):,.2f}"


def cost(value: Any) -> str:
    """An average cost: 2 places, more only when they carry something (6 at most)."""
    if value is None or value == "":
        return ""
    d = Decimal(value)
    text = f"{d:,.6f}".rstrip("0")
    whole, _, places = text.partition(".")
    return f"{whole}.{places.ljust(2, '0')}"


def units(value: Any) -> str:
    return "" if value is None or value == "" else f"{int(value):,}"


def me_of(request: Any) -> Any:
    """The signed-in identity of a template's request (None when nobody is)."""
    return request.scope.get("identity") if request is not None else None


def csrf_of(request: Any) -> str:
    me = me_of(request)
    return (me.csrf or "") if me is not None else ""


def template_config(zone: tzinfo) -> TemplateConfig[JinjaTemplateEngine]:
    def when(value: Any, pattern: str = "%Y-%m-%d %H:%M") -> str:
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return moment.astimezone(zone).strftime(pattern)

    def configure(engine: JinjaTemplateEngine) -> None:
        env = engine.engine
        env.autoescape = True
        env.filters.update(money=money, cost=cost, units=units, when=when)
        env.globals.update(zone=str(zone), csrf_of=csrf_of, me_of=me_of, Role=Role)

    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine, engine_callback=configure)
