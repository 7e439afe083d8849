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


def test_the_serial_files_and_shared_groups_of_make_test_exist() -> None:
    """``make test`` runs the files tests/conftest.py names as serial alone: a renamed one would silently run
    beside another worker again, so each named file and folder must be there."""
    import ast

    # read from the source: ``import conftest`` can give another folder's conftest, by basename
    names: dict[str, tuple[str, ...]] = {}
    for node in ast.parse((TESTS / "conftest.py").read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ("SERIAL_FILES", "SHARED_GROUPS"):
                names[node.targets[0].id] = ast.literal_eval(node.value)
    assert set(names) == {"SERIAL_FILES", "SHARED_GROUPS"} and all(names.values())
    root = TESTS.parent
    missing = [p for group in names.values() for p in group if not (root / p).exists()]
    assert missing == []


def test_the_serial_marker_reaches_every_test_of_the_serial_files_and_no_other() -> None:
    """What ``-m serial`` selects at collection: all of a serial file's tests, none of another file's."""
    import subprocess
    import sys

    root = TESTS.parent
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "-m", "serial", "tests/serving/test_batching.py", "tests/core/test_suite_layout.py"],
                         cwd=root, capture_output=True, text=True, timeout=300).stdout.splitlines()
    selected = [line for line in out if "::" in line]
    assert selected and all(line.startswith("tests/serving/test_batching.py::") for line in selected), out[-5:]
