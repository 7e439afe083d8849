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


def test_experiment_rename_with_bad_names_is_refused_inline(page, ui_data):
    c = ui_data["client"]
    eid = c.create_experiment("rename-me")
    c.create_experiment("taken-name")
    page.open(f"/experiments/{eid}")

    def try_name(name: str) -> str:
        page.css("#exp-rename > summary").click()
        box = page.css("#exp-rename-name")
        box.clear()
        box.send_keys(name, Keys.ENTER)
        return page.wait(lambda d: d.find_elements("css selector", "#rename-error"))[0].text

    assert "already exists" in try_name("taken-name")
    assert page.css("h1").text.startswith("rename-me")  # nothing changed
    assert page.css("#exp-rename").get_attribute("open") is not None  # the form stays open, the name kept
    assert page.css("#exp-rename-name").get_attribute("value") == "taken-name"
    assert page.css("#exp-rename-name").get_attribute("aria-invalid") == "true"
    assert c.get_experiment(eid).name == "rename-me"
    assert all("status of 400" in e for e in page.console_errors())  # only the refusal's own status
    page.open(f"/experiments/{eid}")
    assert "must not be empty" in try_name("   ")
    assert c.get_experiment(eid).name == "rename-me"
    assert page.css("h1").text.startswith("rename-me")
    # a truly empty name is stopped by the browser itself (the field is required)
    page.open(f"/experiments/{eid}")
    page.css("#exp-rename > summary").click()
    page.css("#exp-rename-name").clear()
    page.css("#exp-rename button[type=submit]").click()
    assert page.d.execute_script("return document.getElementById('exp-rename-name').validity.valueMissing")
    assert c.get_experiment(eid).name == "rename-me"
    page.shot("experiment-rename-error")
    # after the refusals a good name goes through, and the page is the runs page again
    box = page.css("#exp-rename-name")
    box.send_keys("renamed-ok", Keys.ENTER)
    page.wait(lambda d: d.find_element("css selector", "h1").text.startswith("renamed-ok"))
    assert c.get_experiment(eid).name == "renamed-ok" and urlparse(page.d.current_url).path == f"/experiments/{eid}"
    assert not page.all("#rename-error")
    page.assert_clean()


def test_compare_experiments_shows_each_runs_experiment(page, ui_data):
    eid, other = ui_data["experiment_id"], ui_data["other_experiment"]
    page.open("/")
    for e in (eid, other):
        page.css(f"#experiments input[name=experiment][value='{e}']").click()
    page.css("#exp-form button[formaction$='/compare-experiments']").click()
    page.wait(lambda d: urlparse(d.current_url).path == "/runs")
    assert sorted(parse_qs(urlparse(page.d.current_url).query)["experiment"]) == sorted([eid, other])
    headers = [th.text for th in page.all("#runs-table thead th")]
    assert headers[2] == "Experiment"
    rows = {}
    for tr in page.all("#runs-table tbody tr"):
        name = tr.find_element("css selector", "td.name a").text
        link = tr.find_element("css selector", "td.exp a")
        rows[name] = (link.text, link.get_attribute("href"))
    churn = ("churn-model", f"{page.base}/experiments/{eid}")
    assert rows["h-run"][1] == f"{page.base}/experiments/{other}" and rows["h-run"][0].startswith("hostile <script>")
    assert rows["run-59"] == churn and rows["run-40"] == churn
    assert {v for v in rows.values()} == {churn, rows["h-run"]}
    page.assert_clean()
    page.shot("compare-experiments")
    # the column follows the table through a sort (an htmx swap) and leads to the experiment
    [a for a in page.all("#runs-table thead a.sort") if a.text.startswith("Run")][0].click()
    page.wait(lambda d: "sort=attr" in d.current_url)
    page.settle()
    assert [th.text for th in page.all("#runs-table thead th")][2] == "Experiment"
    first = page.css("#runs-table tbody tr td.exp a")
    assert first.get_attribute("href") == churn[1]  # by name, descending: sweep-parent first
    first.click()
    page.wait(lambda d: urlparse(d.current_url).path == f"/experiments/{eid}")
    assert not page.all("#runs-table thead th.exp-col")  # one experiment: no column
    page.assert_clean()
