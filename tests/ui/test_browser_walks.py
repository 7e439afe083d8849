"""Walks through the UI in headless Chromium (the session's one browser and server): logged models from
the run page, experiment renames refused inline, comparing experiments, chart smoothing and x axes read
from the plot's own data, compare-plot choices kept in the URL, registry descriptions and tags."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

pytestmark = pytest.mark.browser


def _links(page, selector: str) -> dict[str, str]:
    return {a.text: a.get_attribute("href") for a in page.all(selector)}


def test_run_page_links_parent_children_and_logged_model(page, ui_data):
    base = page.base
    # a child run links its parent; the parent lists its three children as links
    page.open(f"/runs/{ui_data['runs'][1]}")
    parent = page.css("#parent-run")
    assert parent.text == "sweep-parent" and parent.get_attribute("href") == f"{base}/runs/{ui_data['parent']}"
    parent.click()
    page.wait(lambda d: d.current_url.endswith(f"/runs/{ui_data['parent']}"))
    children = _links(page, "#children a")
    assert children == {f"run-{i:02d}": f"{base}/runs/{ui_data['runs'][i]}" for i in range(3)}
    page.assert_clean()
    # the run that logged a model links it; the model's page shows its facts, params, metrics, tags, files
    page.open(f"/runs/{ui_data['h_run']}")
    mid = ui_data["logged_model"]
    link = page.css("#logged-models a")
    assert link.text == "churn-lm" and link.get_attribute("href") == f"{base}/logged-models/{mid}"
    link.click()
    page.wait(lambda d: d.current_url.endswith(f"/logged-models/{mid}"))
    assert page.css("#lm-name").text == "churn-lm" and page.css("#lm-id").text == mid
    src = page.css("#lm-source-run")
    assert src.text == "h-run" and src.get_attribute("href") == f"{base}/runs/{ui_data['h_run']}"
    params = {r.find_element("css selector", "th").text: r.find_element("css selector", "td").text
              for r in page.all("#lm-params tbody tr")}
    assert params == {"alpha": "0.5"}
    metrics = {r.find_element("css selector", "th").text: [t.text for t in r.find_elements("css selector", "td")]
               for r in page.all("#lm-metrics tbody tr")}
    assert metrics == {"lm_acc": ["0.93", "1", ""]}  # the latest step's value
    tags = {r.find_element("css selector", "th").text: r.find_element("css selector", "td").text
            for r in page.all("#lm-tags tbody tr")}
    assert tags == {"stage": "candidate"}
    # its files through the artifact browser: the MLmodel preview with flavors, signature, requirements
    link = page.wait(lambda d: [a for a in d.find_elements("css selector", "#artifact-tree a")
                                if a.text.endswith("MLmodel")])[0]
    link.click()
    page.wait(lambda d: d.find_elements("css selector", "#preview #flavors"))
    assert "sklearn" in page.css("#preview #flavors").text
    assert "petal <length>" in page.css("#preview table.signature").text
    assert "scikit-learn==1.9.0" in page.css("#preview").text
    dl = page.css("#preview a.button").get_attribute("href")
    assert dl.startswith(f"{base}/logged-models/{mid}/artifacts/raw?path=MLmodel")
    page.assert_clean()
    page.shot("logged-model")
    # an unknown id: the error page, 404
    page.open("/logged-models/m-00000000000000000000000000000000")
    assert "RESOURCE_DOES_NOT_EXIST" in page.css("p.error").text
    assert all("status of 404" in e for e in page.console_errors())  # only the page's own status
