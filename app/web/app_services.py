"""The app's services, as code outside a handler's dependencies reaches them: the app's state holds
the one `Services` the app was made with.

Used by the REST idempotency answer and the pages' form reader (which run outside any handler's
dependencies), and by the API's hot routes (a sale, a hold, a confirm). Every other handler takes its
service as a dependency; Litestar resolves a dependency on every request, cached or not (a cleanup
group entered in an exit stack, the provider awaited, the value checked against the handler's
signature model). On a hot sale that was ~21,000 instructions (~10 µs, 3 % of its CPU;
docs/performance.md, issue 12); reading the services costs two attribute lookups.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from app.services.wiring import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services
