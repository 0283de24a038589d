"""The package's directions hold: what each layer may import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "devskyy_ws"

FORBIDDEN = {
    "channels": {"services", "http", "store", "providers"},  # the hub knows no services
    "services": {"http"},  # services know nothing of HTTP
    "store": {"services", "http", "channels", "providers"},  # the store holds data, not rules
    "providers": {"services", "http", "channels", "store"},  # providers are leaves
    "gltf": {"services", "http", "channels", "store", "providers"},
    "contract": {"services", "http", "channels", "store", "providers"},
}
DESCRIBES_THE_REST = {
    "contract/openapi.py",
    "contract/asyncapi.py",
    "contract/openapi_schemas.py",
}  # the API documents read every layer's names


def _imported(path: Path) -> set[str]:
    """The devskyy_ws subpackages a module imports, its relative imports resolved."""
    package = path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, *(node.module or "").split(".")]).strip(".")
                names = [f"{name}.{a.name}" for a in node.names] if not node.module else [name]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "devskyy_ws" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_only_what_it_may(layer: str) -> None:
    wrong = {
        str(path.relative_to(PACKAGE)): sorted(_imported(path) & FORBIDDEN[layer])
        for path in (PACKAGE / layer).rglob("*.py")
        if str(path.relative_to(PACKAGE)) not in DESCRIBES_THE_REST
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_the_checker_sees_relative_imports() -> None:
    assert "http" in _imported(PACKAGE / "app.py")
    assert "contract" in _imported(PACKAGE / "services" / "tasks.py")
