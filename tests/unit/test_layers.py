"""The layers import in one direction: domain <- persistence <- services <- transports (web, CLI).
Read from the source (every import, nested ones too), so a new module cannot quietly break it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

APP = Path(__file__).resolve().parents[2] / "app"
# What each layer may import from the app, besides itself (settings and display are leaves that
# read the configuration once; piccolo_conf names the database for the migrations).
MAY_IMPORT = {
    "domain": (),
    "intake": ("app.domain",),
    "persistence": ("app.domain", "app.intake", "app.settings", "app.piccolo_conf"),
    "services": ("app.domain", "app.intake", "app.persistence", "app.settings", "app.display"),
}
# Known exceptions, to go: services that still format answers with the web layer's views.
NOT_YET = {("services/events.py", "app.web.views"), ("services/reports.py", "app.web.views")}


# Transports' libraries: below the transports nothing speaks HTTP or GraphQL.
TRANSPORT_LIBRARIES = ("litestar", "litestar_htmx", "strawberry", "httpx", "jinja2")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update([node.module] if node.module != "app" else [f"app.{a.name}" for a in node.names])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def _app_imports(path: Path) -> set[str]:
    return {name for name in _imports(path) if name.startswith("app.")}


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    allowed = (f"app.{layer}", *MAY_IMPORT[layer])
    wrong = sorted(
        (str(path.relative_to(APP)), name)
        for path in (APP / layer).rglob("*.py")
        for name in _app_imports(path)
        if not any(name == a or name.startswith(f"{a}.") for a in allowed)
        and (str(path.relative_to(APP)), name) not in NOT_YET
    )
    assert not wrong, f"{layer} imports what it may not: {wrong}"


@pytest.mark.parametrize("layer", sorted(MAY_IMPORT))
def test_no_layer_below_the_transports_uses_their_libraries(layer: str) -> None:
    used = sorted(
        (str(path.relative_to(APP)), name)
        for path in (APP / layer).rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in TRANSPORT_LIBRARIES
    )
    assert not used, f"{layer} uses a transport's library: {used}"
