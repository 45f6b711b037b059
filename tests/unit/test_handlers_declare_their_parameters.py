"""Every route handler says where each of its parameters comes from: a dependency by
`NamedDependency[...]`, a path parameter by `FromPath[...]`, a body by `JSONBody[...]`. Litestar 2
still infers them (with a LitestarDeprecationWarning each) and Litestar 3 will not: a handler that
relies on the inference would stop working at the upgrade."""

from __future__ import annotations

import warnings
from dataclasses import replace

import pytest
from litestar.exceptions import LitestarDeprecationWarning

from app.settings import Settings

pytestmark = pytest.mark.unit

# Strawberry's own Litestar handlers (its GraphQL GET/POST and WebSocket endpoints) infer theirs:
# not ours to mark, and gone with a Strawberry release for Litestar 3.
STRAWBERRY_HANDLERS = ("handler='handle_http_get'", "handler='handle_http_post'", "handler='websocket_endpoint'")


def test_no_handler_of_ours_relies_on_an_inferred_parameter() -> None:
    from app.web.app import create_app

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        create_app(replace(Settings.from_env(), database_url="postgresql://nobody@127.0.0.1:1/none"))  # opens nothing

    ours = [
        str(w.message)
        for w in caught
        if issubclass(w.category, LitestarDeprecationWarning)
        and not any(name in str(w.message) for name in STRAWBERRY_HANDLERS)
        or "dependencies='custom_context" in str(w.message)  # our GraphQL context's own dependencies
    ]
    assert ours == []
