"""XGBoost: a scikit-learn wrapper (ubj, the default) and a raw Booster (json)."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table


def _classifier() -> Built:
    import xgboost as xgb

    X, y = table()
    model = xgb.XGBClassifier(n_estimators=4, max_depth=2, random_state=0).fit(X, y)
    return Built(model, X, y, X.head(5))


def _booster() -> Built:
    import xgboost as xgb

    X, y = table(seed=1)
    booster = xgb.train({"max_depth": 2, "objective": "reg:squarederror"}, xgb.DMatrix(X, label=y), 4)
    return Built(booster, X, y, X.head(5))


def _native(model, X):
    import xgboost as xgb

    if isinstance(model, xgb.Booster):
        return as_numpy(model.predict(xgb.DMatrix(X)))
    return as_numpy(model.predict(X))


MLFLOW_SAVE = """
import xgboost as xgb, mlflow.xgboost, mlflow.pyfunc
clf = xgb.XGBClassifier(n_estimators=4, max_depth=2, random_state=0).fit(X, y)
for fmt in ("ubj", "json", "xgb"):
    p = f"{root}/{fmt}"
    mlflow.xgboost.save_model(clf, p, model_format=fmt, input_example=X.head(3), pip_requirements=[])
    out[fmt] = {"native": tolist(clf.predict(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
booster = xgb.train({"max_depth": 2}, xgb.DMatrix(X, label=y), 3)
p = f"{root}/booster-ubj"
mlflow.xgboost.save_model(booster, p, pip_requirements=[])
out["booster-ubj"] = {"native": tolist(booster.predict(xgb.DMatrix(X))),
                      "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = """
import xgboost as xgb, mlflow.xgboost, mlflow.pyfunc
m = mlflow.xgboost.load_model(path)
out["native"] = tolist(m.predict(xgb.DMatrix(X)) if isinstance(m, xgb.Booster) else m.predict(X))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
out["class"] = type(m).__name__
"""

_KEYS = {"xgb_version", "data", "model_class", "model_format", "code"}

CASES = [
    FlavorCase(
        id="xgboost-classifier", module="tureen.flavors.xgboost", framework="xgboost", build=_classifier,
        section="xgboost", keys=_KEYS, loader_module="mlflow.xgboost", requirement="xgboost-cpu",
        mlflow_save=MLFLOW_SAVE, mlflow_load=MLFLOW_LOAD, native_predict=_native,
        bad_dtype=lambda X: X.assign(f0="high"), bad_shape=lambda X: X.drop(columns=["f3"]),
        unsupported=(object(), "xgboost"), version_key="xgb_version", data_file="model.ubj"),
    FlavorCase(
        id="xgboost-booster-json", module="tureen.flavors.xgboost", framework="xgboost", build=_booster,
        section="xgboost", keys=_KEYS, loader_module="mlflow.xgboost", requirement="xgboost-cpu",
        save_kw={"model_format": "json"}, mlflow_save="", mlflow_load=MLFLOW_LOAD, native_predict=_native,
        bad_dtype=lambda X: X.assign(f1="x"), bad_shape=lambda X: X.assign(extra=1.0),
        version_key="xgb_version", data_file="model.json", rtol=1e-5),
]
