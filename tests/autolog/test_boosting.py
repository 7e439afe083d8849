"""XGBoost and LightGBM autologging: train() and the scikit-learn API, early stopping, nesting."""

from __future__ import annotations

import json

import pytest

from autolog_support import artifacts, runs


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    import tureen

    return sorted((m.step, m.value) for m in tureen.TrackingClient().get_metric_history(run_id, key))


@pytest.fixture
def splits(binary):
    X, y = binary
    return X[:90], y[:90], X[90:], y[90:]


def test_xgboost_train_with_early_stopping(splits):
    import numpy as np
    import xgboost as xgb

    import tureen
    import tureen.flavors.xgboost

    Xt, yt, Xv, yv = splits
    tureen.flavors.xgboost.autolog(importance_types=["weight", "gain"])
    dtrain, dvalid = xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.3}, dtrain, num_boost_round=50,
                        evals=[(dtrain, "train"), (dvalid, "eval")], early_stopping_rounds=2, verbose_eval=False)
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "xgboost"
    params = run.data.params
    assert params["max_depth"] == "2" and params["eta"] == "0.3" and params["objective"] == "binary:logistic"
    assert params["num_boost_round"] == "50" and params["early_stopping_rounds"] == "2"
    assert "dtrain" not in params and "evals" not in params and "callbacks" not in params
    rounds = booster.num_boosted_rounds()
    hist = _history(run.info.run_id, "eval-logloss")
    assert [s for s, _ in hist[:-1]] == list(range(rounds)) and hist[-1][0] == rounds  # + the best at the extra step
    assert hist[-1][1] == pytest.approx(hist[booster.best_iteration][1])
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == rounds - 1
    files = artifacts(run.info.run_id)
    assert {"feature_importance_weight.json", "feature_importance_gain.json"} <= set(files)
    path = tureen.TrackingClient().download_artifacts(run.info.run_id, "feature_importance_weight.json")
    with open(path) as f:
        assert json.load(f) == booster.get_score(importance_type="weight")
    (out,) = run.outputs.model_outputs
    model = tureen.pyfunc.load_model(f"models:/{out.model_id}")
    np.testing.assert_allclose(model.predict(Xv), booster.predict(dvalid), rtol=1e-6)
    assert model.metadata.signature is not None
    assert model.metadata.flavors["xgboost"]["model_class"] == "xgboost.core.Booster"


def test_xgboost_sklearn_api_logs_once_with_estimator_params(splits):
    import xgboost as xgb

    import tureen
    import tureen.flavors.xgboost

    Xt, yt, Xv, yv = splits
    tureen.flavors.xgboost.autolog()
    clf = xgb.XGBClassifier(n_estimators=4, max_depth=2).fit(Xt, yt, eval_set=[(Xv, yv)], verbose=False)
    (run,) = runs()  # the inner xgboost train() logs into the same run, not a new one
    assert run.data.params["n_estimators"] == "4" and run.data.params["max_depth"] == "2"
    assert run.data.tags["estimator_name"] == "XGBClassifier"
    assert [s for s, _ in _history(run.info.run_id, "validation_0-logloss")] == [0, 1, 2, 3]
    (out,) = run.outputs.model_outputs
    flavor = tureen.pyfunc.load_model(f"models:/{out.model_id}").metadata.flavors["xgboost"]
    assert flavor["model_class"] == "xgboost.sklearn.XGBClassifier" and flavor["model_format"] == "ubj"
    assert clf.predict(Xv).shape == (len(Xv),)


def test_lightgbm_train_with_early_stopping(splits):
    import lightgbm as lgb
    import numpy as np

    import tureen
    import tureen.flavors.lightgbm

    Xt, yt, Xv, yv = splits
    tureen.flavors.lightgbm.autolog()
    train = lgb.Dataset(Xt, label=yt)
    valid = lgb.Dataset(Xv, label=yv, reference=train)
    booster = lgb.train({"objective": "binary", "num_leaves": 4, "verbose": -1, "metric": ["binary_logloss"]},
                        train, num_boost_round=40, valid_sets=[train, valid], valid_names=["train", "valid"],
                        callbacks=[lgb.early_stopping(2, verbose=False)])
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "lightgbm"
    assert run.data.params["num_leaves"] == "4" and run.data.params["num_boost_round"] == "40"
    assert "train_set" not in run.data.params and "valid_sets" not in run.data.params
    hist = _history(run.info.run_id, "valid-binary_logloss")
    iterations = len(hist) - 1  # every iteration trained, then the best one again at an extra step
    assert [s for s, _ in hist] == list(range(iterations + 1))
    assert booster.best_iteration < iterations
    assert run.data.metrics["best_iteration"] == booster.best_iteration
    assert run.data.metrics["stopped_iteration"] == iterations
    assert hist[-1][1] == pytest.approx(hist[booster.best_iteration - 1][1])
    assert {"feature_importance_split.json", "feature_importance_gain.json"} <= set(artifacts(run.info.run_id))
    (out,) = run.outputs.model_outputs
    model = tureen.pyfunc.load_model(f"models:/{out.model_id}")
    np.testing.assert_allclose(np.asarray(model.predict(Xv)).ravel(), booster.predict(Xv), rtol=1e-6)


def test_lightgbm_metric_names_with_at_sign(splits):
    import lightgbm as lgb
    import numpy as np

    import tureen.flavors.lightgbm

    Xt, yt, _, _ = splits
    tureen.flavors.lightgbm.autolog(log_models=False)
    ds = lgb.Dataset(Xt, label=yt, group=[30, 30, 30])
    lgb.train({"objective": "lambdarank", "metric": "ndcg", "eval_at": [3], "verbose": -1,
               "num_leaves": 4}, ds, num_boost_round=2, valid_sets=[ds], valid_names=["train"])
    (run,) = runs()
    assert "train-ndcg_at_3" in run.data.metrics
    assert np.isfinite(run.data.metrics["train-ndcg_at_3"])


def test_lightgbm_sklearn_api(splits):
    import lightgbm as lgb

    import tureen.flavors.lightgbm

    Xt, yt, _, _ = splits
    tureen.flavors.lightgbm.autolog()
    lgb.LGBMClassifier(n_estimators=3, num_leaves=4, verbose=-1).fit(Xt, yt)
    (run,) = runs()
    assert run.data.params["n_estimators"] == "3"
    assert run.data.tags["estimator_name"] == "LGBMClassifier"
    assert len(run.outputs.model_outputs) == 1


def test_booster_inside_a_search_logs_once_with_every_integration(splits):
    import xgboost as xgb
    from sklearn.model_selection import GridSearchCV

    import tureen

    Xt, yt, _, _ = splits
    tureen.autolog(log_models=False)
    GridSearchCV(xgb.XGBClassifier(n_estimators=2), {"max_depth": [1, 2]}, cv=2).fit(Xt, yt)
    all_runs = runs()
    parents = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1 and parents[0].data.tags["estimator_name"] == "GridSearchCV"
    assert len(all_runs) == 3  # the parent and one child per candidate; no run per fold or refit
    assert not any(k.startswith("validation_0") for k in parents[0].data.metrics)


def test_disable_restores_xgboost_and_lightgbm():
    import lightgbm as lgb
    import lightgbm.sklearn
    import xgboost as xgb
    import xgboost.sklearn

    import tureen

    before = (xgb.train, xgboost.sklearn.train, xgb.DMatrix.__init__, vars(xgb.XGBClassifier).get("fit"),
              lgb.train, lightgbm.sklearn.train, lgb.Dataset.__init__, vars(lgb.LGBMClassifier).get("fit"))
    tureen.autolog()
    assert xgb.train is not before[0] and lgb.train is not before[4]
    tureen.autolog(disable=True)
    after = (xgb.train, xgboost.sklearn.train, xgb.DMatrix.__init__, vars(xgb.XGBClassifier).get("fit"),
             lgb.train, lightgbm.sklearn.train, lgb.Dataset.__init__, vars(lgb.LGBMClassifier).get("fit"))
    assert all(a is b for a, b in zip(after, before))
