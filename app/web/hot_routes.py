"""The services of the API's hot routes (a sale, a hold, a confirm), taken from the app's state.

Every other handler takes its service as a dependency. Litestar resolves a dependency on every
request, cached or not: a cleanup group entered in an exit stack, the provider awaited, the value
checked against the handler's signature model. On a hot sale that was ~21,000 instructions (~10 µs,
3 % of its CPU; docs/performance.md, issue 12); reading the services the app was made with costs
two attribute lookups. Only the routes an order system calls a thousand times a second do this.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from app.services.wiring import Services


def services_of(request: Request[Any, Any, Any]) -> Services:
    services: Services = request.app.state.services
    return services
