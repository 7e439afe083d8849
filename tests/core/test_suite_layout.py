"""The suite's own layout: a mistake here stops pytest from collecting anything, so it is checked first."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_test_module_names_are_unique_outside_packages() -> None:
    """Test folders without ``__init__.py`` import their modules by basename ("rootdir" mode): two
    ``test_pages.py`` in two such folders make the second fail to import, and the whole run stops."""
    seen: dict[str, list[str]] = defaultdict(list)
    for file in TESTS.rglob("test_*.py"):
        if not (file.parent / "__init__.py").exists():
            seen[file.name].append(str(file.relative_to(TESTS)))
    clashes = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert clashes == {}, f"rename one of each pair (or add __init__.py to the folder): {clashes}"
