"""Every ```python block of every page in docs/flavors/ runs, in order, in one namespace per page.

Pages are discovered; a page is marked like the conformance cases of its flavor (``torch``, ``spark``, ...) so
that a subset of the suite can run without that framework.
"""

from __future__ import annotations

import pytest

from _docs_runner import DOCS, python_blocks, run_examples
from flavor_support import CASES


def _marks(stem: str) -> list[object]:
    marks: list[object] = []
    for case in CASES:
        if case.id.split("-")[0] == stem or case.module.rsplit(".", 1)[-1] == stem:
            marks.extend(m for m in case.marks if m not in marks)
    return marks


PAGES = [pytest.param(p.name, id=p.stem, marks=_marks(p.stem)) for p in sorted((DOCS / "flavors").glob("*.md"))]


def test_every_registered_flavor_has_a_page():
    from tureen.flavors import FLAVORS

    pages = {p.stem for p in (DOCS / "flavors").glob("*.md")}
    aliases = {"python_function": "custom-python"}
    missing = sorted(n for n in FLAVORS if aliases.get(n, n) not in pages)
    assert not missing, f"flavors without a docs/flavors/ page: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_flavor_page_examples_run(page, tmp_path, monkeypatch, capsys):
    assert python_blocks(f"flavors/{page}"), f"{page} has no python example"
    monkeypatch.chdir(tmp_path)
    run_examples(f"flavors/{page}")
    assert capsys.readouterr().out.strip(), "the examples print what they show"
