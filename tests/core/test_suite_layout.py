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


def test_no_virtualenv_or_cache_links_are_tracked() -> None:
    """A tracked ``.venv`` / ``.cache`` (say, a worktree's symlink added by ``git add -A``) makes every checkout
    that fast-forwards over it delete the real, ignored directory of the same name."""
    import shutil
    import subprocess

    import pytest

    root = TESTS.parent
    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(["git", "ls-files", "--", ".venv", ".cache", "venv", ".tox"], cwd=root,
                         capture_output=True, text=True, check=True).stdout.split()
    assert out == [], f"untrack these (git rm --cached): {out}"
