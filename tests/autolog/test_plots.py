"""The PNG plots autologging records (MLflow's names and cases), drawn without pyplot; none without matplotlib."""

from __future__ import annotations

import struct
import subprocess
import sys

import pytest

from autolog_support import artifacts, runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BINARY_PLOTS = {"training_confusion_matrix.png", "training_roc_curve.png", "training_precision_recall_curve.png"}


def _png_size(run_id: str, name: str) -> tuple[int, int]:
    """(width, height) of a logged artifact after checking it is a PNG (magic bytes, IHDR first)."""
    import tureen

    with open(tureen.TrackingClient().download_artifacts(run_id, name), "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_MAGIC, f"{name} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_binary_classifier_logs_confusion_matrix_roc_and_pr_curves(binary):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import tureen.flavors.sklearn

    had_pyplot = "matplotlib.pyplot" in sys.modules
    X, y = binary
    tureen.flavors.sklearn.autolog(log_models=False)
    LogisticRegression().fit(X, np.where(y == 1, "yes", "no"))  # string labels: the positive label is "yes"
    (run,) = runs()
    assert set(artifacts(run.info.run_id)) == {"estimator.html"} | BINARY_PLOTS
    for name in BINARY_PLOTS:
        assert _png_size(run.info.run_id, name) == (1050, 700)  # 6 x 4 inches at 175 dpi, as MLflow saves them
    if not had_pyplot:
        assert "matplotlib.pyplot" not in sys.modules  # drawn on Figure + Agg canvas: no global figure state


def test_multiclass_classifier_logs_only_the_confusion_matrix(iris):
    from sklearn.tree import DecisionTreeClassifier

    import tureen.flavors.sklearn

    X, y = iris
    tureen.flavors.sklearn.autolog(log_models=False)
    DecisionTreeClassifier(max_depth=2).fit(X, y)
    (run,) = runs()
    assert set(artifacts(run.info.run_id)) == {"estimator.html", "training_confusion_matrix.png"}
    _png_size(run.info.run_id, "training_confusion_matrix.png")


@pytest.mark.filterwarnings("ignore:.*fit\\(\\) got no labels")
def test_regressor_and_unlabelled_fits_log_no_plots(binary):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import Ridge

    import tureen.flavors.sklearn

    X, y = binary
    tureen.flavors.sklearn.autolog(log_models=False)
    Ridge().fit(X, y.astype(float))
    KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    for run in runs():
        assert artifacts(run.info.run_id) == ["estimator.html"]


def test_classifier_without_scores_logs_the_confusion_matrix_and_warns_once_for_curves(binary):
    from sklearn.tree import DecisionTreeClassifier

    import tureen.flavors.sklearn
    from tureen.autolog._patch import AutologgingWarning

    class NoScores(DecisionTreeClassifier):  # a classifier with neither predict_proba nor decision_function
        predict_proba = property(lambda self: (_ for _ in ()).throw(AttributeError("no proba")))

    X, y = binary
    tureen.flavors.sklearn.autolog(log_models=False)
    with pytest.warns(AutologgingWarning, match="training_roc_curve.png") as record:
        NoScores().fit(X, y)
    (run,) = runs()
    assert set(artifacts(run.info.run_id)) == {"estimator.html", "training_confusion_matrix.png"}
    assert sum("precision_recall_curve" in str(w.message) for w in record) == 1


def test_xgboost_and_lightgbm_feature_importance_plots(binary, iris):
    import lightgbm as lgb
    import xgboost as xgb

    import tureen.flavors.lightgbm
    import tureen.flavors.xgboost

    X, y = binary
    tureen.flavors.xgboost.autolog(importance_types=["weight", "gain"], log_models=False)
    tureen.flavors.lightgbm.autolog(log_models=False)
    xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)
    lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=3)
    Xi, yi = iris  # gblinear on 3 classes: one importance per feature and class ("weight" only)
    tureen.flavors.xgboost.autolog(log_models=False)
    xgb.XGBClassifier(booster="gblinear", n_estimators=3).fit(Xi, yi)
    files = {(r.data.tags["mlflow.autologging"], r.data.tags.get("estimator_name")): set(artifacts(r.info.run_id))
             for r in runs()}
    assert files[("xgboost", None)] == {f"feature_importance_{t}.{ext}" for t in ("weight", "gain")
                                        for ext in ("json", "png")}
    assert {"feature_importance_weight.json", "feature_importance_weight.png"} <= files[("xgboost", "XGBClassifier")]
    assert files[("lightgbm", None)] == {f"feature_importance_{t}.{ext}" for t in ("split", "gain")
                                         for ext in ("json", "png")}
    for run in runs():
        for name in artifacts(run.info.run_id):
            if name.endswith(".png"):
                assert _png_size(run.info.run_id, name)[0] == 640  # 6.4 inches at 100 dpi, as MLflow's


def test_without_matplotlib_plots_are_skipped_silently(tmp_path):
    code = """
import sys, warnings
sys.modules["matplotlib"] = None  # as if not installed
warnings.simplefilter("error")
import numpy as np, tureen, tureen.flavors.sklearn, tureen.flavors.lightgbm
from sklearn.linear_model import LogisticRegression
import lightgbm as lgb
tureen.flavors.sklearn.autolog(log_models=False)
tureen.flavors.lightgbm.autolog(log_models=False)
rng = np.random.default_rng(0)
X = rng.normal(size=(60, 3)); y = (X[:, 0] > 0).astype(int)
LogisticRegression().fit(X, y)
lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, label=y), num_boost_round=2)
client = tureen.TrackingClient()
for run in tureen.search_runs(output_format="list"):
    print(" ".join(sorted(f.path for f in client.list_artifacts(run.info.run_id))))
"""
    env = {"TUREEN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(proc.stdout.split("\n")[:2]) == ["estimator.html",
                                                  "feature_importance_gain.json feature_importance_split.json"]
    assert "Warning" not in proc.stderr
