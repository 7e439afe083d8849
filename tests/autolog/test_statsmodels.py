"""statsmodels autologging: fit() of OLS and ARIMA logs params, MLflow's allow-listed statistics and the model."""

from __future__ import annotations

import numpy as np
import pytest

from autolog_support import runs


@pytest.fixture(scope="module")
def data():
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    return X, 2 * X["a"] - X["c"] + rng.normal(scale=0.1, size=40)


def test_ols_fit_logs_params_metrics_and_model(data):
    import statsmodels.api as sm

    import tureen
    import tureen.flavors.statsmodels as tsm
    from tureen import pyfunc

    X, y = data
    tsm.autolog()
    results = sm.OLS(y, X).fit(method="pinv")
    (run,) = runs()
    assert run.data.tags["mlflow.autologging"] == "statsmodels"
    assert run.data.params["method"] == "pinv"
    metrics = run.data.metrics
    assert metrics["rsquared"] == pytest.approx(results.rsquared)
    assert metrics["aic"] == pytest.approx(results.aic)
    assert "df_resid" in metrics and "llf" in metrics
    model = pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(model.predict(X), results.predict(X))
    assert tureen.active_run() is None  # the managed run was closed


def test_nested_fit_logs_once_and_disable_restores(data):
    import statsmodels.api as sm
    from statsmodels.tsa.arima.model import ARIMA

    import tureen.flavors.statsmodels as tsm

    X, y = data
    original = ARIMA.fit
    tsm.autolog(log_models=False)
    assert ARIMA.fit is not original
    # ARIMA.fit fits state-space models internally: still one run
    ARIMA(np.asarray(y), order=(1, 0, 0)).fit()
    (run,) = runs()
    assert "aic" in run.data.metrics
    tsm.autolog(disable=True)
    assert ARIMA.fit is original
    sm.OLS(y, X).fit()
    assert len(runs()) == 1
