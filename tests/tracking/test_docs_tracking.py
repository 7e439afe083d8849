"""The Python examples of the tracking, registry, URI and store docs run, in order, page by page."""

from __future__ import annotations

import pytest

from _docs_runner import python_blocks, run_examples

PAGES = ["tracking.md", "registry.md", "uris.md", "stores.md"]


@pytest.mark.parametrize("page", PAGES)
def test_docs_examples_run(page, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert python_blocks(page), f"{page} has no Python examples"
    run_examples(page)
    import tureen

    if tureen.active_run() is not None:
        tureen.end_run()
