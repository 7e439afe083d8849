"""statsmodels: an OLS regression saved with remove_data (predict on a table) and an ARIMA model (forecast from
a one-row start/end frame, as MLflow)."""

from __future__ import annotations

from cases import Built, FlavorCase, as_numpy, table


def _ols() -> Built:
    import statsmodels.api as sm

    X, y = table()
    target = X["f0"] * 2.0 - X["f2"] + 0.1 * y
    return Built(sm.OLS(target, X).fit(), X, target, X.head(5))


def _arima() -> Built:
    import numpy as np
    import pandas as pd
    from statsmodels.tsa.arima.model import ARIMA

    rng = np.random.default_rng(0)
    series = np.cumsum(rng.normal(size=60)) * 0.1 + np.sin(np.arange(60) / 4)
    frame = pd.DataFrame({"start": [55], "end": [64]})
    return Built(ARIMA(series, order=(2, 0, 1)).fit(), frame, series, frame)


def _ts_predict(m, X):
    row = X.iloc[0]
    return as_numpy(m.predict(start=int(row["start"]), end=int(row["end"])))


MLFLOW_SAVE_OLS = """
import statsmodels.api as sm, mlflow.statsmodels, mlflow.pyfunc
res = sm.OLS(y, X).fit()
p = f"{root}/pickle"
mlflow.statsmodels.save_model(res, p, remove_data=True, input_example=X.head(3), pip_requirements=[])
out["pickle"] = {"native": tolist(res.predict(X)), "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(X))}
"""

MLFLOW_SAVE_ARIMA = """
from statsmodels.tsa.arima.model import ARIMA
import mlflow.statsmodels, mlflow.pyfunc
res = ARIMA(y, order=(2, 0, 1)).fit()
frame = pd.DataFrame({"start": [55], "end": [64]})
p = f"{root}/pickle"
mlflow.statsmodels.save_model(res, p, pip_requirements=[])
out["pickle"] = {"native": tolist(res.predict(start=55, end=64)),
                 "pyfunc": tolist(mlflow.pyfunc.load_model(p).predict(frame))}
"""

MLFLOW_LOAD_OLS = """
import mlflow.statsmodels, mlflow.pyfunc
out["native"] = tolist(mlflow.statsmodels.load_model(path).predict(X))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

MLFLOW_LOAD_ARIMA = """
import mlflow.statsmodels, mlflow.pyfunc
X = pd.DataFrame(X, columns=["start", "end"]).astype("int64")
out["native"] = tolist(mlflow.statsmodels.load_model(path).predict(start=55, end=64))
out["pyfunc"] = tolist(mlflow.pyfunc.load_model(path).predict(X))
"""

_COMMON = dict(module="tureen.flavors.statsmodels", framework="statsmodels", section="statsmodels",
               keys={"statsmodels_version", "data", "code"}, loader_module="mlflow.statsmodels",
               requirement="statsmodels", pickle_kw={}, unsupported=(object(), "PythonModel"),
               version_key="statsmodels_version", data_file="model.statsmodels")

CASES = [
    FlavorCase(id="statsmodels-ols", build=_ols, mlflow_save=MLFLOW_SAVE_OLS, mlflow_load=MLFLOW_LOAD_OLS,
               native_predict=lambda m, X: as_numpy(m.predict(X)), bad_dtype=lambda X: X.assign(f0="high"),
               bad_shape=lambda X: X.drop(columns=["f3"]), save_kw={"remove_data": True}, **_COMMON),
    FlavorCase(id="statsmodels-arima", build=_arima, mlflow_save=MLFLOW_SAVE_ARIMA, mlflow_load=MLFLOW_LOAD_ARIMA,
               native_predict=_ts_predict, bad_dtype=lambda X: X.assign(start="soon"),
               bad_shape=lambda X: X.drop(columns=["end"]), **_COMMON),
]
