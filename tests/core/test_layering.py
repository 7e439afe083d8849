"""The layering rules of the design, checked on the source: ``tureen/models`` imports nothing from tracking,
registry, serving or the server, and flavor modules reach tracking only inside functions (never at import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "tureen"


def _imports(path: Path, *, module_level_only: bool) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if module_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def _violations(folder: str, forbidden: tuple[str, ...], *, module_level_only: bool) -> list[str]:
    return [f"{path.relative_to(PACKAGE.parent)} imports {name}"
            for path in sorted((PACKAGE / folder).rglob("*.py"))
            for name in _imports(path, module_level_only=module_level_only)
            if name.startswith(forbidden)]


def test_models_package_imports_nothing_from_the_upper_layers() -> None:
    forbidden = ("tureen.tracking", "tureen.registry", "tureen.serving", "tureen.server", "tureen.store")
    assert _violations("models", forbidden, module_level_only=False) == []


@pytest.mark.parametrize("folder", ["flavors", "models"])
def test_no_module_level_import_of_tracking(folder: str) -> None:
    forbidden = ("tureen.tracking", "tureen.registry", "tureen.store", "tureen.server")
    assert _violations(folder, forbidden, module_level_only=True) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import os\nfrom tureen.tracking import fluent\n")
    assert "tureen.tracking" in _imports(bad, module_level_only=True)
