"""The statsmodels flavor: fitted results objects (``OLS(...).fit()``, ``ARIMA(...).fit()``, ...).

statsmodels has no code-free format of its own: a results object is written with its ``save`` method, which
pickles it, as MLflow does (``model.statsmodels``, ``loader_module: mlflow.statsmodels``). Loading it therefore
always passes the unsafe gate with the caller's ``allow_pickle``. ``remove_data=True`` saves the
results without their training arrays (statsmodels' ``remove_data``), which makes the file small.

pyfunc ``predict``:

* regression-type models (``OLS``, ``GLM``, ``Logit``, ...): ``results.predict(data)``;
* time-series models (``ARIMA``, ``SARIMAX``, ``ExponentialSmoothing``, ...): as MLflow, a one-row DataFrame
  with columns ``start`` and ``end`` gives ``results.predict(start=, end=)``; or forecasting through
  ``params``: ``{"steps": n}`` gives ``results.forecast(n)`` and ``{"start": a, "end": b}`` gives
  ``results.predict(start=a, end=b)`` (the input then only carries exogenous values, if any).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tureen.exceptions import InvalidParameterError, ModelFormatError, SchemaEnforcementError, UnsupportedModelError
from tureen.flavors._base import resolve_data_file, suggest_flavor, unsafe_load, warn_version_mismatch
from tureen.flavors._flavor import Flavor, Predictor, Written

__all__ = ["FLAVOR", "FLAVOR_NAME", "save_model", "log_model", "load_model", "get_default_pip_requirements"]

FLAVOR_NAME = "statsmodels"
DATA_FILE = "model.statsmodels"


def get_default_pip_requirements() -> list[str]:
    """``statsmodels==<installed>``.

    Example:
        >>> get_default_pip_requirements()[0].startswith("statsmodels==")  # doctest: +SKIP
        True
    """
    from tureen.env import pin

    return [pin("statsmodels")]


def _sm() -> Any:
    from tureen._optional import import_optional

    return import_optional("statsmodels", "the statsmodels flavor")


def _is_results(obj: Any) -> bool:
    # by class names first, so that other objects never import statsmodels
    if not any(c.__module__.split(".")[0] == "statsmodels" for c in type(obj).__mro__):
        return False
    from statsmodels.base.wrapper import ResultsWrapper

    import statsmodels.base.model as base

    return isinstance(obj, (ResultsWrapper, base.Results))


def _is_time_series(results: Any) -> bool:
    from statsmodels.tsa.base.tsa_model import TimeSeriesModel

    return isinstance(getattr(results, "model", None), TimeSeriesModel)


class StatsmodelsFlavor(Flavor):
    """statsmodels results objects, written by statsmodels' ``save`` (a pickle: loading passes the gate)."""

    name = FLAVOR_NAME
    loader_module = "mlflow.statsmodels"
    packages = {"statsmodels": "statsmodels"}
    extra = "statsmodels"
    autolog_module = "tureen.autolog._statsmodels"

    def write(self, model: Any, root: Path, *, remove_data: bool = False) -> Written:
        """Write a fitted statsmodels results object.

        Args:
            model: the results of ``fit()`` (e.g. ``sm.OLS(y, X).fit()``), not the unfitted model.
            remove_data: save the results without their training arrays (statsmodels' ``remove_data``: a
                smaller file). A copy is stripped, so the results you pass keep working. Regression results
                still predict; time-series results need their data to forecast, so keep it for those.

        Example:
            >>> import statsmodels.api as sm  # doctest: +SKIP
            >>> save_model(sm.OLS(y, X).fit(), "ols_model", input_example=X[:5])  # doctest: +SKIP
        """
        if isinstance(model, type):
            raise UnsupportedModelError(f"save_model needs fitted results, got the class {model.__name__}")
        if not isinstance(remove_data, bool):
            raise InvalidParameterError(f"remove_data must be True or False, got {remove_data!r}")
        if not _is_results(model):
            hint = (" Call fit() and save its results." if type(model).__module__.startswith("statsmodels")
                    else suggest_flavor(model))
            raise UnsupportedModelError(f"The statsmodels flavor saves fitted results objects (what fit() returns); "
                                        f"got {type(model).__module__}.{type(model).__qualname__}." + hint)
        sm = _sm()
        if remove_data:
            import copy

            copy.deepcopy(model).save(str(root / DATA_FILE), remove_data=True)
        else:
            model.save(str(root / DATA_FILE))
        return Written(conf={"statsmodels_version": sm.__version__, "data": DATA_FILE, "code": None},
                       pyfunc={"data": DATA_FILE}, predict=_StatsmodelsPredictor(model).predict,
                       requirements=get_default_pip_requirements())

    def read(self, root: Path, conf: dict[str, Any], *, allow_pickle: bool | None = None) -> Any:
        sm = _sm()
        warn_version_mismatch("statsmodels", conf.get("statsmodels_version"), sm.__version__)
        file = resolve_data_file(root, conf.get("data") or DATA_FILE, "statsmodels model")

        def load() -> Any:
            import pickle

            try:
                with open(file, "rb") as f:
                    return pickle.load(f)
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, ValueError) as exc:
                raise ModelFormatError(f"The statsmodels file {file.name} cannot be loaded: "
                                       f"{type(exc).__name__}: {exc}") from exc

        return unsafe_load(load, what=f"statsmodels results {file.name} (a pickle)", allow_pickle=allow_pickle)

    def predictor(self, raw: Any, **context: Any) -> Predictor:
        return _StatsmodelsPredictor(raw)

    def needs_pickle(self, root: Path, conf: dict[str, Any]) -> bool:
        """statsmodels results are always pickled."""
        return True


class _StatsmodelsPredictor(Predictor):
    """pyfunc: ``predict`` of the results; time-series models forecast from start/end or ``params``."""

    def __init__(self, results: Any) -> None:
        super().__init__(results)
        self._ts = _is_time_series(results)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        results = self.raw
        try:
            if self._ts:
                return self._forecast(results, data, params or {})
            return results.predict(data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise SchemaEnforcementError(f"The input does not fit the statsmodels model: "
                                         f"{str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__}",
                                         [str(exc)]) from None

    @staticmethod
    def _forecast(results: Any, data: Any, params: dict[str, Any]) -> Any:
        exog = None
        if data is not None and hasattr(data, "columns"):
            exog_cols = [c for c in data.columns if c not in ("start", "end")]
            exog = data[exog_cols] if exog_cols else None
        if "steps" in params:
            steps = params["steps"]
            if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
                raise InvalidParameterError(f"params 'steps' must be a positive integer, got {steps!r}")
            return results.forecast(steps, **({"exog": exog} if exog is not None else {}))
        if "start" in params or "end" in params:
            return results.predict(start=params.get("start"), end=params.get("end"),
                                   **({"exog": exog} if exog is not None else {}))
        if data is None or not hasattr(data, "columns") or len(data) != 1 or not {"start", "end"} <= set(data.columns):
            raise SchemaEnforcementError(
                "A time-series model predicts from a one-row DataFrame with columns 'start' and 'end' (as MLflow), "
                "or from params {'steps': n} / {'start': a, 'end': b}",
                ["time-series input needs one row with 'start' and 'end'"])
        row = data.iloc[0]
        return results.predict(start=_scalar(row["start"]), end=_scalar(row["end"]),
                               **({"exog": exog} if exog is not None else {}))


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


FLAVOR = StatsmodelsFlavor()
save_model = FLAVOR.save_model
log_model = FLAVOR.log_model
load_model = FLAVOR.load_model
needs_pickle = FLAVOR.needs_pickle
_load_pyfunc = FLAVOR._load_pyfunc
autolog = FLAVOR.autolog
