"""scikit-learn autologging against the real SQLite store: what is recorded, reversibility, safety."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings

import pytest

from autolog_support import artifacts, runs

CLASSIFIER_METRICS = {"training_precision_score", "training_recall_score", "training_f1_score",
                      "training_accuracy_score", "training_log_loss", "training_roc_auc", "training_score"}
REGRESSOR_METRICS = {"training_mean_squared_error", "training_root_mean_squared_error",
                     "training_mean_absolute_error", "training_r2_score", "training_score"}


def _autolog(**kw):
    import tureen.flavors.sklearn

    tureen.flavors.sklearn.autolog(**kw)


def test_classifier_fit_records_params_metrics_tags_and_model(iris):
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    import tureen

    X, y = iris
    _autolog(log_input_examples=True)
    clf = LogisticRegression(max_iter=300, C=0.5).fit(X, y)
    (run,) = runs()
    assert run.info.status == "FINISHED"
    tags = run.data.tags
    assert tags["mlflow.autologging"] == "sklearn"
    assert tags["estimator_name"] == "LogisticRegression"
    assert tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert run.data.params == {k: str(v) for k, v in clf.get_params(deep=True).items()}
    assert set(run.data.metrics) == CLASSIFIER_METRICS
    assert run.data.metrics["training_accuracy_score"] == pytest.approx(clf.score(X, y))
    assert "estimator.html" in artifacts(run.info.run_id)
    (output,) = run.outputs.model_outputs
    model = tureen.pyfunc.load_model(f"models:/{output.model_id}")
    assert model.metadata.signature is not None
    assert [c.name for c in model.metadata.signature.inputs.inputs] == list(X.columns)
    assert model.input_example is not None and len(model.input_example) == 5
    np.testing.assert_array_equal(model.predict(X), clf.predict(X))
    lm = tureen.TrackingClient().get_logged_model(output.model_id)
    assert lm.name == "model" and lm.status == "LOGGED_MODEL_READY"


def test_regressor_metrics_and_no_input_example_by_default(binary):
    from sklearn.linear_model import Ridge

    import tureen

    X, y = binary
    _autolog()
    Ridge(alpha=0.1).fit(X, y.astype(float))
    (run,) = runs()
    assert set(run.data.metrics) == REGRESSOR_METRICS
    model = tureen.pyfunc.load_model(f"models:/{run.outputs.model_outputs[0].model_id}")
    assert model.input_example is None
    assert model.metadata.signature.inputs.is_tensor_spec()


def test_disable_restores_the_exact_original_functions():
    import sklearn.metrics
    import sklearn.model_selection
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.svm import SVC

    fit = LogisticRegression.__dict__["fit"]
    inherited_score = LogisticRegression.score
    pipe_predict_fn = vars(Pipeline)["predict"].fn
    accuracy = sklearn.metrics.accuracy_score
    cv_score = sklearn.model_selection.cross_val_score
    svc_fit = SVC.fit
    _autolog()
    assert LogisticRegression.__dict__["fit"] is not fit
    assert vars(Pipeline)["predict"].fn is not pipe_predict_fn
    assert sklearn.metrics.accuracy_score is not accuracy
    assert sklearn.model_selection.cross_val_score is not cv_score
    assert "score" in vars(LogisticRegression)  # inherited method patched on the class itself
    _autolog(disable=True)
    assert LogisticRegression.__dict__["fit"] is fit
    assert "score" not in vars(LogisticRegression) and LogisticRegression.score is inherited_score
    assert vars(Pipeline)["predict"].fn is pipe_predict_fn
    assert sklearn.metrics.accuracy_score is accuracy
    assert sklearn.model_selection.cross_val_score is cv_score
    assert SVC.fit is svc_fit
    LogisticRegression().fit([[0.0], [1.0]], [0, 1])
    assert runs() == []


def test_a_user_started_run_is_used_and_not_tagged(binary):
    from sklearn.tree import DecisionTreeClassifier

    import tureen

    X, y = binary
    _autolog()
    with tureen.start_run() as run:
        DecisionTreeClassifier(max_depth=2).fit(X, y)
        assert tureen.active_run().info.run_id == run.info.run_id
    (logged,) = runs()
    assert logged.info.run_id == run.info.run_id
    assert "mlflow.autologging" not in logged.data.tags
    assert logged.data.params["max_depth"] == "2"
    assert "training_accuracy_score" in logged.data.metrics


def test_exclusive_leaves_user_runs_alone(binary):
    from sklearn.tree import DecisionTreeClassifier

    import tureen

    X, y = binary
    _autolog(exclusive=True)
    with tureen.start_run():
        DecisionTreeClassifier(max_depth=2).fit(X, y)
    (run,) = runs()
    assert run.data.params == {} and run.data.metrics == {}
    DecisionTreeClassifier(max_depth=2).fit(X, y)  # outside a user run: autologged
    assert len(runs()) == 2


def test_search_over_pipeline_logs_once_with_child_runs(iris):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    import tureen

    X, y = iris
    _autolog(max_tuning_runs=2)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    search = GridSearchCV(pipe, {"logisticregression__C": [0.01, 0.1, 1.0]}, cv=2).fit(X, y)
    all_runs = runs()
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in all_runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2  # no run for any inner pipeline/step fit
    parent = parents[0]
    assert parent.data.tags["estimator_name"] == "GridSearchCV"
    assert parent.data.params["best_logisticregression__C"] == str(search.best_params_["logisticregression__C"])
    assert parent.data.params["cv"] == "2"
    assert "estimator__logisticregression__C" not in parent.data.params  # not deep for searches
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert CLASSIFIER_METRICS <= set(parent.data.metrics)
    assert {"cv_results.csv", "estimator.html"} <= set(artifacts(parent.info.run_id))
    client = tureen.TrackingClient()
    names = {client.get_logged_model(o.model_id).name for o in parent.outputs.model_outputs}
    assert names == {"model", "best_estimator"}
    ranks = sorted(int(c.data.metrics["rank_test_score"]) for c in children)
    assert ranks == [1, 2]
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["mlflow.autologging"] == "sklearn"
        assert child.data.tags["estimator_name"] == "Pipeline"
        assert child.info.status == "FINISHED"
        assert {"mean_test_score", "std_test_score", "mean_fit_time"} <= set(child.data.metrics)
        assert "logisticregression__C" in child.data.params


def test_max_tuning_runs_none_logs_every_candidate(binary):
    from sklearn.model_selection import RandomizedSearchCV
    from sklearn.tree import DecisionTreeClassifier

    X, y = binary
    _autolog(max_tuning_runs=None, log_models=False)
    RandomizedSearchCV(DecisionTreeClassifier(), {"max_depth": [1, 2, 3]}, n_iter=3, cv=2, random_state=0).fit(X, y)
    assert len([r for r in runs() if "mlflow.parentRunId" in r.data.tags]) == 3


def test_post_training_metrics_are_named_after_the_dataset_variable(iris):
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression

    import tureen

    X, y = iris
    _autolog(log_models=False)
    model = LogisticRegression(max_iter=300).fit(X, y)
    X_test, y_test = X.iloc[::3], y.iloc[::3]
    pred = model.predict(X_test)
    acc = sklearn.metrics.accuracy_score(y_test, pred)
    sklearn.metrics.accuracy_score(y_test, pred, normalize=False)  # a second call on the same data
    score = model.score(X_test, y_test)
    unrelated = sklearn.metrics.accuracy_score([0, 1], [0, 1])  # not a prediction of an autologged model
    assert unrelated == 1.0
    (run,) = runs()
    metrics = run.data.metrics
    assert metrics["accuracy_score_X_test"] == pytest.approx(acc)
    assert metrics["accuracy_score-2_X_test"] == pytest.approx(len(y_test) * acc)
    assert metrics["LogisticRegression_score_X_test"] == pytest.approx(score)
    info_file = tureen.TrackingClient().download_artifacts(run.info.run_id, "metric_info.json")
    with open(info_file) as f:
        info = json.load(f)
    assert info["accuracy_score_X_test"] == "accuracy_score(y_true=y_test, y_pred=pred)"
    assert info["LogisticRegression_score_X_test"] == "LogisticRegression.score(X=X_test, y=y_test)"


def test_cross_val_score_runs_without_autologging(binary):
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    X, y = binary
    _autolog()
    import sklearn.model_selection

    sklearn.model_selection.cross_val_score(DecisionTreeClassifier(), X, y, cv=3)
    assert runs() == []
    assert cross_val_score is not None


def test_training_that_raises_ends_the_run_failed_and_reraises_unchanged():
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    bad = np.array([[0.0], [np.nan], [1.0]])
    with pytest.raises(ValueError) as plain:
        LogisticRegression().fit(bad, [0, 1, 0])
    _autolog()
    with pytest.raises(ValueError) as patched:
        LogisticRegression().fit(bad, [0, 1, 0])
    assert type(patched.value) is type(plain.value) and str(patched.value) == str(plain.value)
    assert patched.traceback[-1].path == plain.traceback[-1].path  # raised where sklearn raises it
    (run,) = runs()
    assert run.info.status == "FAILED"
    import tureen

    assert tureen.active_run() is None


def test_failure_inside_autologging_warns_once_and_training_succeeds(binary, monkeypatch):
    from sklearn.tree import DecisionTreeClassifier

    from tureen.autolog import _sklearn
    from tureen.autolog._patch import AutologgingWarning

    def broken(*args, **kwargs):
        raise RuntimeError("model store exploded")

    monkeypatch.setattr(_sklearn, "log_sklearn_model", broken)
    X, y = binary
    _autolog()
    with pytest.warns(AutologgingWarning, match="model store exploded"):
        first = DecisionTreeClassifier(max_depth=2).fit(X, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        second = DecisionTreeClassifier(max_depth=3).fit(X, y)
    assert not [w for w in caught if issubclass(w.category, AutologgingWarning)]  # once
    assert first.predict(X).shape == (120,) and second.get_depth() <= 3
    assert all(r.info.status == "FINISHED" for r in runs())


def test_silent_and_unreachable_store(binary, monkeypatch, tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    from tureen.autolog._patch import AutologgingWarning

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("TUREEN_TRACKING_URI", f"sqlite:///{blocker}/sub/store.db")
    X, y = binary
    _autolog()
    with pytest.warns(AutologgingWarning, match="could not start a run"):
        model = DecisionTreeClassifier().fit(X, y)
    assert model.predict(X[:2]).shape == (2,)
    _autolog(silent=True)
    from tureen.autolog import _patch

    _patch._WARNED.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        DecisionTreeClassifier().fit(X, y)
    assert not [w for w in caught if issubclass(w.category, AutologgingWarning)]


def test_no_change_to_warning_filters_or_logging_config(binary):
    from sklearn.tree import DecisionTreeClassifier

    X, y = binary
    filters = list(warnings.filters)
    root = logging.getLogger()
    state = (root.level, list(root.handlers), logging.getLogger("tureen.autolog").level)
    _autolog()
    DecisionTreeClassifier().fit(X, y)
    _autolog(disable=True)
    assert warnings.filters == filters
    assert (root.level, list(root.handlers), logging.getLogger("tureen.autolog").level) == state


def test_unsupported_version_warns_with_the_tested_range(binary, monkeypatch):
    import sklearn
    from sklearn.tree import DecisionTreeClassifier

    from tureen.autolog._patch import AutologgingWarning

    X, y = binary
    monkeypatch.setattr(sklearn, "__version__", "0.20.0")
    with pytest.warns(AutologgingWarning, match=r"tested with scikit-learn 1\.3\.0 to 1\.9\.1.*0\.20\.0"):
        _autolog()
    DecisionTreeClassifier().fit(X, y)  # still trains, still logs
    assert len(runs()) == 1
    with pytest.warns(AutologgingWarning):
        _autolog(disable_for_unsupported_versions=True)
    DecisionTreeClassifier().fit(X, y)
    assert len(runs()) == 1


def test_bad_arguments_are_typed_errors():
    from tureen.exceptions import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="max_tuning_runs"):
        _autolog(max_tuning_runs=-1)
    with pytest.raises(InvalidParameterError, match="serialization_format"):
        _autolog(serialization_format="joblib")
    import tureen

    with pytest.raises(InvalidParameterError, match="exclude_flavors"):
        tureen.autolog(exclude_flavors=["spark"])


def test_extra_tags_and_registered_model_name(binary):
    from sklearn.tree import DecisionTreeClassifier

    import tureen

    X, y = binary
    _autolog(extra_tags={"team": "churn"}, registered_model_name="churn-tree")
    DecisionTreeClassifier().fit(X, y)
    (run,) = runs()
    assert run.data.tags["team"] == "churn"
    (version,) = tureen.TrackingClient().search_model_versions("name = 'churn-tree'")
    assert version.run_id == run.info.run_id


def _python(code: str, tmp_path) -> str:
    env = {"TUREEN_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_universal_autolog_patches_on_import_and_keeps_explicit_config(tmp_path):
    out = _python("""
import sys, tureen
tureen.autolog(extra_tags={"via": "universal"})
assert not any(m in sys.modules for m in ("sklearn", "xgboost", "lightgbm", "keras", "torch")), "imported a framework"
import tureen.flavors.lightgbm
tureen.flavors.lightgbm.autolog(log_models=False)
tureen.autolog(extra_tags={"via": "again"})
from tureen.autolog import _patch
assert _patch.get_config("lightgbm", "log_models") is False, "explicit config lost"
from sklearn.tree import DecisionTreeClassifier
DecisionTreeClassifier().fit([[0.0], [1.0]], [0, 1])
run = tureen.last_active_run()
print(run.data.tags["mlflow.autologging"], run.data.tags["via"])
""", tmp_path)
    assert out.split() == ["sklearn", "again"]


@pytest.mark.parametrize("module, flavor, extra", [("sklearn", "sklearn", "sklearn"),
                                                   ("lightning", "pytorch", "pytorch"),
                                                   ("xgboost", "xgboost", "xgboost")])
def test_framework_not_installed_names_the_extra(tmp_path, module, flavor, extra):
    out = _python(f"""
import sys
for name in ({module!r}, "pytorch_lightning"):
    sys.modules[name] = None  # as if not installed
import tureen.flavors.{flavor}
from tureen.exceptions import MissingDependencyError
try:
    tureen.flavors.{flavor}.autolog()
except MissingDependencyError as exc:
    print(exc)
""", tmp_path)
    assert f"tureen[{extra}]" in out
