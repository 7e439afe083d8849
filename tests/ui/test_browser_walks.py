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


def _debiased_ema(ys: list[float], factor: float) -> list[float]:
    """The smoothing written out here independently: acc_n = f*acc_{n-1} + (1-f)*y_n, shown as acc_n/(1-f^n)."""
    out, acc = [], 0.0
    for n, y in enumerate(ys, start=1):
        acc = factor * acc + (1 - factor) * y
        out.append(acc / (1 - factor ** n))
    return out


def _plot_data(page) -> list[list[float]]:
    page.wait(lambda d: d.execute_script("return document.body.getAttribute('data-charts-ready')") == "1")
    return page.d.execute_script("return document.querySelector('figure.chart')._plot.data")


def test_chart_smoothing_and_x_axes_on_the_plots_data(page, ui_data):
    rid = ui_data["runs"][0]  # loss = 1/(s+1) at steps 0..39, logged at 1_700_000_100_000 + 100*s ms
    raw = [1.0 / (s + 1) for s in range(40)]
    page.open(f"/charts?run={rid}&key=loss")
    xs, ys = _plot_data(page)
    assert xs == list(range(40)) and ys == pytest.approx(raw, rel=1e-12)
    # smoothing through the slider: the plotted line is the debiased moving average
    page.d.execute_script("var s = document.getElementById('chart-smooth'); s.value = '0.6';"
                          "s.dispatchEvent(new Event('input', {bubbles: true}));"
                          "s.dispatchEvent(new Event('change', {bubbles: true}));")
    assert page.css("#smooth-out").text == "0.6"
    page.css("#chart-form button[type=submit]").click()
    page.wait(lambda d: "smooth=0.6" in d.current_url)
    xs, ys = _plot_data(page)
    assert xs == list(range(40))
    assert ys == pytest.approx(_debiased_ema(raw, 0.6), rel=1e-9)
    assert ys[0] == pytest.approx(raw[0])  # debiased: the first point is the first value, not 0.4 of it
    page.assert_clean()
    # the factor is clamped to 0..0.99
    page.open(f"/charts?run={rid}&key=loss&smooth=7")
    _xs, ys = _plot_data(page)
    assert page.css("#chart-smooth").get_attribute("value") == "0.99"
    assert ys == pytest.approx(_debiased_ema(raw, 0.99), rel=1e-9)
    page.open(f"/charts?run={rid}&key=loss&smooth=-3")
    assert _plot_data(page)[1] == pytest.approx(raw, rel=1e-12)
    # x axes: wall time and relative time, in seconds on the plot
    Select(page.css("#chart-x")).select_by_value("time")
    page.css("#chart-form button[type=submit]").click()
    page.wait(lambda d: "x=time" in d.current_url)
    xs, ys = _plot_data(page)
    assert xs == pytest.approx([1_700_000_100 + s / 10 for s in range(40)], abs=1e-6)
    assert page.d.execute_script("return document.querySelector('figure.chart')._plot.scales.x.time") is True
    Select(page.css("#chart-x")).select_by_value("relative")
    page.css("#chart-form button[type=submit]").click()
    page.wait(lambda d: "x=relative" in d.current_url)
    xs, ys = _plot_data(page)
    start = ui_data["client"].get_run(rid).info.start_time
    assert xs == pytest.approx([(1_700_000_100_000 + 100 * s - start) / 1000 for s in range(40)], abs=1e-6)
    assert ys == pytest.approx(raw, rel=1e-12)
    page.assert_clean()
    page.shot("charts-relative")
    # two runs with smoothing: each line smoothed on its own points only (the joined table's gaps skipped)
    other = ui_data["runs"][1]  # starts 1 s later: its relative x values are shifted by a second
    page.open(f"/charts?run={rid}&run={other}&key=loss&x=relative&smooth=0.5")
    xs, a, b = _plot_data(page)
    raw_b = [1.0 / (s + 1) + 0.001 for s in range(40)]
    assert [v for v in a if v is not None] == pytest.approx(_debiased_ema(raw, 0.5), rel=1e-9)
    assert [v for v in b if v is not None] == pytest.approx(_debiased_ema(raw_b, 0.5), rel=1e-9)
    page.assert_clean()


def _compare_ready(page) -> None:
    page.wait(lambda d: d.execute_script("return document.body.getAttribute('data-compare-ready')") == "1")


def test_compare_plot_choices_live_in_the_url(page, ui_data):
    import json

    runs = ui_data["runs"][40:45]
    page.open("/compare?" + "&".join(f"run={r}" for r in runs))
    _compare_ready(page)
    default_axes = json.loads(page.css("#parallel").get_attribute("data-axes"))
    assert "params.lr" in default_axes and "metrics.acc" in default_axes and len(default_axes) > 2
    axes = Select(page.css("#pc-axes"))
    axes.deselect_all()
    axes.select_by_visible_text("params.lr")
    axes.select_by_visible_text("metrics.acc")
    Select(page.css("#sc-x")).select_by_visible_text("metrics.loss")
    Select(page.css("#sc-y")).select_by_visible_text("params.depth")
    query = parse_qs(urlparse(page.d.current_url).query)
    assert query["pc"] == ["params.lr", "metrics.acc"] and query["sx"] == ["metrics.loss"]
    assert query["sy"] == ["params.depth"] and query["run"] == runs
    assert json.loads(page.css("#parallel").get_attribute("data-axes")) == ["params.lr", "metrics.acc"]

    def check_kept() -> None:
        _compare_ready(page)
        assert json.loads(page.css("#parallel").get_attribute("data-axes")) == ["params.lr", "metrics.acc"]
        assert [o.text for o in Select(page.css("#pc-axes")).all_selected_options] == ["params.lr", "metrics.acc"]
        assert page.css("#scatter").get_attribute("data-x") == "metrics.loss"
        assert page.css("#scatter").get_attribute("data-y") == "params.depth"
        assert Select(page.css("#sc-x")).first_selected_option.text == "metrics.loss"
        page.assert_clean()

    page.d.refresh()
    check_kept()
    page.shot("compare-choices")
    # the table's own links keep them too
    page.css("#diff-toggle").click()
    page.wait(lambda d: "diff=1" in d.current_url)
    check_kept()
    # names that are not keys of these runs (or are hostile) are ignored: the default plots, a clean console
    page.open("/compare?" + "&".join(f"run={r}" for r in runs) + "&pc=%3Cscript%3Ewindow.__pwned%3D9%3C%2Fscript%3E"
              "&pc=metrics.nope&sx=zzz&sy=")
    _compare_ready(page)
    assert json.loads(page.css("#parallel").get_attribute("data-axes")) == default_axes
    assert page.css("#scatter").get_attribute("data-x") == "params.depth"  # the first parameter
    page.assert_clean()


def _kv(page, selector: str) -> dict[str, str]:
    return {r.find_element("css selector", "th").text: r.find_element("css selector", "td").text
            for r in page.all(f"{selector} tbody tr") if r.find_elements("css selector", "th")}


def test_registry_descriptions_and_tags_edited_in_the_browser(page, ui_data):
    from selenium.webdriver.support import expected_conditions as ec

    c = ui_data["client"]
    c.create_registered_model("walk-registry", tags={"old": "1"})
    c.create_model_version("walk-registry", f"runs:/{ui_data['rich']}/model", run_id=ui_data["rich"])
    page.open("/model?name=walk-registry")

    def submit(button) -> None:
        old = page.css("h1")
        button.click()
        page.wait(ec.staleness_of(old))  # the form posted and the page came back

    # the model's description and tags
    box = page.css("#model-desc")
    box.send_keys("Churn model, <b>walk</b> edition")
    submit(page.css("section[aria-labelledby=mdesc-h] button"))
    assert page.css("#model-desc").get_attribute("value") == "Churn model, <b>walk</b> edition"
    assert c.get_registered_model("walk-registry").description == "Churn model, <b>walk</b> edition"
    tag_form = "section[aria-labelledby=mtags-h] form.inline"
    page.css(f"{tag_form} input[name=key]").send_keys("owner")
    page.css(f"{tag_form} input[name=value]").send_keys("growth <team>")
    submit(page.css(f"{tag_form} button"))
    assert _kv(page, "#model-tags") == {"old": "1", "owner": "growth <team>"}
    submit(page.css("#model-tags button[aria-label='Remove tag old']"))
    assert _kv(page, "#model-tags") == {"owner": "growth <team>"}
    assert c.get_registered_model("walk-registry").tags == {"owner": "growth <team>"}
    page.assert_clean()
    page.shot("model-edited")
    # a version's description and tags
    page.css("#versions tr[data-version='1'] td a").click()
    page.wait(lambda d: d.find_elements("css selector", "#ver-desc"))
    page.css("#ver-desc").send_keys("first cut")
    submit(page.css("section[aria-labelledby=vdesc-h] button"))
    assert page.css("#ver-desc").get_attribute("value") == "first cut"
    vtag_form = "section[aria-labelledby=vtags-h] form.inline"
    for key, value in (("validated", "yes"), ("dataset", "iris")):
        page.css(f"{vtag_form} input[name=key]").send_keys(key)
        page.css(f"{vtag_form} input[name=value]").send_keys(value)
        submit(page.css(f"{vtag_form} button"))
    assert _kv(page, "#version-tags") == {"dataset": "iris", "validated": "yes"}
    submit(page.css("#version-tags button[aria-label='Remove tag dataset']"))
    assert _kv(page, "#version-tags") == {"validated": "yes"}
    mv = c.get_model_version("walk-registry", "1")
    assert mv.description == "first cut" and mv.tags == {"validated": "yes"}
    # the model's versions table shows the version's new description
    page.open("/model?name=walk-registry")
    assert page.css("#versions tr[data-version='1'] td.trunc").text == "first cut"
    page.assert_clean()
    page.shot("model-version-edited")
