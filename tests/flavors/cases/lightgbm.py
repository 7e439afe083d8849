"""LightGBM: a scikit-learn wrapper (skops, the default) and a Booster (native text file)."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table


def _classifier() -> Built:
    import lightgbm as lgb

    X, y = table()
    model = lgb.LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1, random_state=0).fit(X, y)
    return Built(model, X, y, X.head(5))


def _booster() -> Built:
    import lightgbm as lgb

    X, y = table(seed=2)
    booster = lgb.train({"verbose": -1, "min_data_in_leaf": 2}, lgb.Dataset(X, label=X["f0"]), 4)
    return Built(booster, X, y, X.head(5))


def _native(model, X):
    return as_numpy(model.predict(X))


MLFLOW_SAVE = """
import lightgbm as lgb, mlflow.lightgbm, mlflow.pyfunc
clf = lgb.LGBMClassifier(n_estimators=5, min_child_samples=2, verbose=-1, random_state=0).fit(X, y)
for fmt in ("skops", "cloudpickle", "pickle"):
    p = f"{root}/{fmt}"
    mlflow.lightgbm.save_model(clf, p, serialization_format=fmt, input_example=X.head(3), pip_requirements=[])
    out[fmt] = {"native": tolist(clf.predict(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
booster = lgb.train({"verbose": -1, "min_data_in_leaf": 2}, lgb.Dataset(X, label=X["f0"]), 4)
p = f"{root}/booster"
mlflow.lightgbm.save_model(booster, p, pip_requirements=[])
out["booster"] = {"native": tolist(booster.predict(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_LOAD = """
import mlflow.lightgbm, mlflow.pyfunc
m = mlflow.lightgbm.load_model(path)
out["native"] = tolist(m.predict(X))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

_KEYS = {"lgb_version", "data", "model_class", "code", "serialization_format", "skops_trusted_types"}

CASES = [
    FlavorCase(
        id="lightgbm-classifier", module="tureen.flavors.lightgbm", framework="lightgbm", build=_classifier,
        section="lightgbm", keys=_KEYS, loader_module="mlflow.lightgbm", requirement="lightgbm",
        mlflow_save=MLFLOW_SAVE, mlflow_load=MLFLOW_LOAD, pickle_kw={"serialization_format": "cloudpickle"},
        native_predict=_native, bad_dtype=lambda X: X.assign(f0="high"),
        bad_shape=lambda X: X.drop(columns=["f3"]), unsupported=(object(), "lightgbm"),
        version_key="lgb_version", data_file="model.skops", serve_settings={"preload": False}),
    FlavorCase(
        id="lightgbm-booster", module="tureen.flavors.lightgbm", framework="lightgbm", build=_booster,
        section="lightgbm", keys=_KEYS, loader_module="mlflow.lightgbm", requirement="lightgbm",
        mlflow_save="", mlflow_load=MLFLOW_LOAD, native_predict=_native,
        bad_dtype=lambda X: X.assign(f1="x"), bad_shape=lambda X: X.drop(columns=["f0"]),
        version_key="lgb_version", data_file="model.lgb", serve_settings={"preload": False}),
]
