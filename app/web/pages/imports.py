from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

from litestar import Controller, Request, get, post
from litestar.response import Template
from litestar.types import ASGIApp
from sse_starlette.sse import EventSourceResponse, ServerSentEvent

from app.domain.access import Role
from app.domain.errors import DomainError, InvalidFile
from app.services import transfer
from app.services.ledger import LedgerService
from app.services.progress import ProgressHub, Step
from app.web.api.transfer import IMPORT_MAX_BYTES
from app.web.auth import requires
from app.web.pages.forms import is_htmx, page, problem


def _bar(step: Step) -> str:
    from html import escape

    return (f'<progress max="{step.total}" value="{step.done}"></progress>'
            f'<span>{step.done}/{step.total} products · {escape(step.label)}</span>')  # fmt: skip


class ImportPages(Controller):
    path = "/import"
    include_in_schema = False
    guards = [requires(Role.MANAGER)]

    @get("/")
    async def form(self) -> Template:
        return page("imports/index.html", section="import", token=secrets.token_urlsafe(16))

    @post("/", request_max_body_size=IMPORT_MAX_BYTES)
    async def upload(self, request: Request, ledger: LedgerService, progress: ProgressHub) -> Template:
        form = await request.form()
        token = str(form.get("token") or "")
        upload = form.get("file")
        template = "imports/_result.html" if is_htmx(request) else "imports/index.html"
        context: dict[str, Any] = {"section": "import", "token": secrets.token_urlsafe(16)}
        if upload is None or isinstance(upload, str):
            return page(template, 400, error={"message": "Choose a CSV file to import.", "fields": {}}, **context)
        text = (await upload.read()).decode("utf-8-sig", errors="replace")
        try:
            rows = transfer.read_rows(text.splitlines(keepends=True), ledger)
            result = await transfer.import_rows(
                rows, ledger, lambda sku, done, total: progress.report(token, Step(done, total, sku))
            )
        except InvalidFile as bad:
            return page(template, 200 if is_htmx(request) else 400, bad_rows=bad.errors, error=problem(bad), **context)
        except DomainError as refused:
            return page(template, 200 if is_htmx(request) else 409, error=problem(refused), **context)
        finally:
            progress.report(token, Step(1, 1, "finished", finished=True))
        return page(template, result=result, **context)

    @get("/progress/{token:str}")
    async def follow(self, token: str, progress: ProgressHub) -> ASGIApp:
        async def steps() -> AsyncIterator[ServerSentEvent]:
            async for step in progress.follow(token):
                yield ServerSentEvent(data=_bar(step), event="progress")
            yield ServerSentEvent(data="", event="finished")  # the page closes its stream on this

        return EventSourceResponse(steps(), ping=15)  # type: ignore[return-value]  # Starlette ASGI types
