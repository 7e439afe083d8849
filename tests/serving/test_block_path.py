"""The server's block path: a one-dtype table goes to a scikit-learn model as its 2-D array, and only when that
answers exactly as the DataFrame would."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import requests
from sklearn.base import BaseEstimator, TransformerMixin

from tureen import flavors
from tureen.flavors.sklearn import _SklearnPyfunc
from tureen.pyfunc import load_model


class Doubler(TransformerMixin, BaseEstimator):
    """A user's transformer: scikit-learn cannot vouch for what it does with a DataFrame."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X * 2


@pytest.fixture(scope="module")
def data(breast_cancer):
    X, y = breast_cancer
    return X.iloc[:, :6].copy(), y


def _fit(est, data):
    X, y = data
    return est.fit(X, y)


def _safe_models():
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier, VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "scaled-logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0),
        "hgb": HistGradientBoostingClassifier(max_iter=10),
        "voting": VotingClassifier([("lr", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))),
                                    ("rf", RandomForestClassifier(n_estimators=3, random_state=0))],
                                   voting="soft"),
    }


@pytest.mark.parametrize("name", list(_safe_models()))
@pytest.mark.parametrize("method", ["predict", "predict_proba"])
def test_block_answers_equal_dataframe_answers_bit_for_bit(tmp_path, data, name, method):
    X, _ = data
    est = _fit(_safe_models()[name], data)
    flavors.sklearn.save_model(est, tmp_path / "m", input_example=X.head(3), pyfunc_predict_fn=method)
    model = load_model(tmp_path / "m")
    block = model._block_predictor()
    assert block is not None
    for rows in (X.head(1), X.head(7), X):
        frame = pd.DataFrame(rows.to_numpy(), columns=rows.columns)  # one block, as the codec builds it
        expected = model.predict(frame)
        got = block(frame.to_numpy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_block_refused_where_the_answer_could_differ(data):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    X, _ = data
    names = list(X.columns)
    refused = {
        "column transformer": make_pipeline(ColumnTransformer([("s", StandardScaler(), names[:3])],
                                                              remainder="passthrough"),
                                            LogisticRegression(max_iter=500)),
        "function transformer": make_pipeline(FunctionTransformer(lambda df: df.assign(extra=1.0)),
                                              LogisticRegression(max_iter=500)),
        "user estimator": make_pipeline(Doubler(), LogisticRegression(max_iter=500)),
        "pandas output": make_pipeline(StandardScaler().set_output(transform="pandas"),
                                       LogisticRegression(max_iter=500)),
    }
    for label, est in refused.items():
        _fit(est, data)
        assert _SklearnPyfunc(est).block_predictor(names) is None, label

    plain = _fit(make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), data)
    assert _SklearnPyfunc(plain).block_predictor(names) is not None
    assert _SklearnPyfunc(plain).block_predictor(names[::-1]) is None  # not the fitted order
    assert _SklearnPyfunc(plain).block_predictor(names[:-1]) is None  # not the fitted width
    assert _SklearnPyfunc(plain).block_predictor(names, "score") is None


def test_block_refused_for_signatures_it_cannot_honour(tmp_path, data):
    from sklearn.linear_model import LogisticRegression

    from tureen.models.signature import ColSpec, ModelSignature, ParamSchema, ParamSpec, Schema

    X, _ = data
    est = _fit(LogisticRegression(max_iter=500), data)
    cols = list(X.columns)
    mixed = ModelSignature(Schema([ColSpec("long", cols[0])] + [ColSpec("double", c) for c in cols[1:]]))
    optional = ModelSignature(Schema([ColSpec("double", c, required=(c != cols[0])) for c in cols]))
    with_params = ModelSignature(Schema([ColSpec("double", c) for c in cols]),
                                 params=ParamSchema([ParamSpec("k", "long", 1)]))
    for label, sig in {"mixed": mixed, "optional": optional, "params": with_params}.items():
        flavors.sklearn.save_model(est, tmp_path / label, signature=sig)
        assert load_model(tmp_path / label)._block_predictor() is None, label
    flavors.sklearn.save_model(est, tmp_path / "plain", input_example=X.head(2))
    assert load_model(tmp_path / "plain")._block_predictor() is not None
    assert load_model(tmp_path / "plain", extra_columns="drop")._block_predictor() is None


def test_real_server_block_path_answers_as_pyfunc(sk_server, saved_sklearn, breast_cancer):
    """split, records and CSV bodies of many rows through gunicorn: the same predictions as pyfunc on the
    DataFrame, and no feature-name warning in the server's log."""
    X, _ = breast_cancer
    rows = X.sample(n=40, random_state=1)
    expected = load_model(saved_sklearn).predict(rows).tolist()
    split = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    records = {"dataframe_records": rows.to_dict(orient="records")}
    with requests.Session() as s:
        for body in (split, records):
            r = s.post(f"{sk_server.url}/invocations", json=body, timeout=30)
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == expected
        buf = io.StringIO()
        rows.to_csv(buf, index=False)
        r = s.post(f"{sk_server.url}/invocations", data=buf.getvalue(), headers={"Content-Type": "text/csv"},
                   timeout=30)
        assert r.status_code == 200 and r.json()["predictions"] == expected
        # a value of the wrong type is still refused by the codec before any model code runs
        bad = {"dataframe_split": {"columns": list(X.columns), "data": [["x"] + [0.0] * (X.shape[1] - 1)]}}
        r = s.post(f"{sk_server.url}/invocations", json=bad, timeout=30)
        assert r.status_code == 400 and X.columns[0] in r.json()["message"]
    assert "feature names" not in sk_server.logs()


def test_app_serves_name_dependent_pipelines_through_the_dataframe(tmp_path, data):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tureen.serving import create_app

    X, _ = data
    names = list(X.columns)
    est = _fit(make_pipeline(ColumnTransformer([("s", StandardScaler(), names[::-1][:4])], remainder="drop"),
                             LogisticRegression(max_iter=500)), data)
    flavors.sklearn.save_model(est, tmp_path / "ct", input_example=X.head(2))
    client = create_app(tmp_path / "ct").test_client()
    rows = X.head(25)
    r = client.post("/invocations", json={"dataframe_split": json.loads(rows.to_json(orient="split",
                                                                                     index=False))})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["predictions"] == est.predict(rows).tolist()


def test_v2_one_tensor_of_every_column_takes_the_block_path(tmp_path, data):
    """An Open Inference Protocol request with one 2-D tensor in the signature's dtype is scored as that array;
    another dtype (FP32 for double columns) goes through the DataFrame and its checks; both answer alike."""
    from sklearn.linear_model import LogisticRegression

    from tureen.serving import create_app
    from tureen.serving.codecs import V2Codec
    from tureen.serving.settings import ServingSettings

    X, _ = data
    est = _fit(LogisticRegression(max_iter=500), data)
    flavors.sklearn.save_model(est, tmp_path / "lr", input_example=X.head(2))
    model = load_model(tmp_path / "lr")
    rows = X.head(9)
    codec = V2Codec(model.metadata.signature.inputs)

    def request(datatype):
        return {"inputs": [{"name": "input-0", "shape": list(rows.shape), "datatype": datatype,
                            "data": rows.to_numpy().ravel().tolist()}]}

    frame, _, _, block = codec.decode(request("FP64"))
    assert block is not None and np.array_equal(block, rows.to_numpy()) and list(frame.columns) == list(X.columns)
    assert codec.decode(request("FP32"))[3] is None
    client = create_app(tmp_path / "lr", ServingSettings(model_name="lr")).test_client()
    expected = {"FP64": est.predict(rows).tolist(),
                "FP32": est.predict(rows.astype("float32").astype("float64")).tolist()}
    for datatype, answer in expected.items():
        r = client.post("/v2/models/lr/infer", json=request(datatype))
        assert r.status_code == 200, r.get_data(as_text=True)
        assert r.get_json()["outputs"][0]["data"] == answer


@pytest.mark.parametrize("kind", ["classifier", "regressor", "booster"])
def test_lightgbm_block_answers_equal_dataframe_answers_bit_for_bit(tmp_path, data, kind):
    import lightgbm

    X, y = data
    if kind == "booster":
        est = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(X, y), num_boost_round=5)
    else:
        cls = lightgbm.LGBMClassifier if kind == "classifier" else lightgbm.LGBMRegressor
        est = cls(n_estimators=5, verbose=-1).fit(X, y)
    flavors.lightgbm.save_model(est, tmp_path / "m", input_example=X.head(3))
    model = load_model(tmp_path / "m")
    block = model._block_predictor()
    assert block is not None
    for rows in (X.head(1), X.head(7), X):
        frame = pd.DataFrame(rows.to_numpy(), columns=rows.columns)
        expected = model.predict(frame)
        got = block(frame.to_numpy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_lightgbm_block_refused_for_other_names_or_categoricals(tmp_path, data):
    import lightgbm

    X, y = data
    est = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(X, y)
    from tureen.flavors.lightgbm import _LGBPyfunc

    impl = _LGBPyfunc(est)
    assert impl.block_predictor(list(X.columns)) is not None
    assert impl.block_predictor(list(reversed(X.columns))) is None
    assert impl.block_predictor(list(X.columns), "predict_proba") is None
    cat = X.assign(plan=pd.Categorical(np.where(y == 1, "a", "b")))
    est = lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(cat, y)
    assert _LGBPyfunc(est).block_predictor(list(cat.columns)) is None


@pytest.mark.parametrize("kind,method", [("classifier", "predict"), ("classifier", "predict_proba"),
                                         ("regressor", "predict"), ("booster", "predict")])
def test_xgboost_block_answers_equal_dataframe_answers_bit_for_bit(tmp_path, data, kind, method):
    import xgboost

    X, y = data
    if kind == "booster":
        est = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(X, y), num_boost_round=5)
    else:
        cls = xgboost.XGBClassifier if kind == "classifier" else xgboost.XGBRegressor
        est = cls(n_estimators=5).fit(X, y)
    flavors.xgboost.save_model(est, tmp_path / "m", input_example=X.head(3), pyfunc_predict_fn=method)
    model = load_model(tmp_path / "m")
    block = model._block_predictor()
    assert block is not None
    for rows in (X.head(1), X.head(7), X):
        frame = pd.DataFrame(rows.to_numpy(), columns=rows.columns)
        expected = model.predict(frame)
        got = block(frame.to_numpy())
        assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_xgboost_block_refused_for_other_names_or_categoricals(data):
    import xgboost

    from tureen.flavors.xgboost import _XGBPyfunc

    X, y = data
    impl = _XGBPyfunc(xgboost.XGBClassifier(n_estimators=3).fit(X, y))
    assert impl.block_predictor(list(X.columns)) is not None
    assert impl.block_predictor(list(reversed(X.columns))) is None
    cat = X.assign(plan=pd.Categorical(np.where(y == 1, "a", "b")))
    est = xgboost.XGBClassifier(n_estimators=3, enable_categorical=True, tree_method="hist").fit(cat, y)
    assert _XGBPyfunc(est).block_predictor(list(cat.columns)) is None
    unnamed = xgboost.XGBClassifier(n_estimators=3).fit(X.to_numpy(), y)
    assert _XGBPyfunc(unnamed).block_predictor(list(X.columns)) is None
