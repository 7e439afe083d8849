"""statsmodels autologging: ``fit`` of every statsmodels model class (``OLS``, ``GLM``, ``ARIMA``, ...).

Recorded as MLflow 3.x does: the ``fit`` arguments as params, the numeric results statistics of MLflow's
allow-list (``aic``, ``bic``, ``rsquared``, ``llf``, ...) as metrics, and the fitted results as the run's model
``model`` (the statsmodels flavor). A ``fit`` called by another ``fit`` (statsmodels does that) logs nothing
of its own.
"""

from __future__ import annotations

from typing import Any, Callable

from tureen.autolog import _patch
from tureen.autolog._common import RunLogger, fn_args_as_params, log_model
from tureen.autolog._patch import disable_autologging, safe_patch

__all__ = ["autolog", "FLAVOR_NAME", "TESTED_VERSIONS", "METRICS"]

FLAVOR_NAME = "statsmodels"
TESTED_VERSIONS = ("0.14.0", "0.15.0")
#: the results statistics MLflow logs when present and numeric
METRICS = ("aic", "bic", "centered_tss", "condition_number", "df_model", "df_resid", "ess", "f_pvalue", "fvalue",
           "llf", "mse_model", "mse_resid", "mse_total", "rsquared", "rsquared_adj", "scale", "ssr",
           "uncentered_tss")


def autolog(log_models: bool = True, log_datasets: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            registered_model_name: str | None = None, extra_tags: dict[str, Any] | None = None,
            log_input_examples: bool = False, log_model_signatures: bool = True) -> None:
    """Turn on (or off) autologging for statsmodels ``fit``.

    Args:
        log_models: log the fitted results as the run's model ``model``.
        (others): as :func:`tureen.autolog` (statsmodels models get no example or signature, as in MLflow).

    Example:
        >>> import tureen.flavors.statsmodels  # doctest: +SKIP
        >>> tureen.flavors.statsmodels.autolog()  # doctest: +SKIP
    """
    config = dict(log_models=log_models, log_datasets=log_datasets, exclusive=exclusive, silent=silent,
                  registered_model_name=registered_model_name, extra_tags=extra_tags)
    sm = _patch.start(FLAVOR_NAME, "statsmodels", "statsmodels autologging", config, disable=disable,
                      disable_for_unsupported_versions=disable_for_unsupported_versions, tested=TESTED_VERSIONS)
    if sm is None:
        return
    import statsmodels.api  # noqa: F401 - imports the model classes so that they can be patched
    import statsmodels.base.model as base

    for cls in _subclasses(base.Model):
        if "fit" in vars(cls):  # only classes that define their own fit: a subclass reaches it through them
            safe_patch(FLAVOR_NAME, cls, "fit", _patched_fit, training=True, session_key="statsmodels.fit")


def _subclasses(root: type) -> list[type]:
    found = {root}
    todo = [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


def _metrics(results: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in METRICS:
        try:
            value = getattr(results, name, None)
        except Exception:  # noqa: BLE001 - some statistics raise for some models: skip them, as MLflow
            continue
        if isinstance(value, bool) or value is None:
            continue
        try:
            out[name] = float(value)
        except (TypeError, ValueError):
            continue
    return out


def _patched_fit(original: Callable[..., Any], self: Any, *args: Any, **kwargs: Any) -> Any:
    run_id = _patch.active_run_id()
    logger = RunLogger(FLAVOR_NAME, run_id)
    logger.log_params(fn_args_as_params(original, (self, *args), kwargs, ["self"]))
    results = original(self, *args, **kwargs)
    with disable_autologging():
        logger.log_metrics(_metrics(results))
        logger.flush()
        if _patch.get_config(FLAVOR_NAME, "log_models", True):
            from tureen.flavors import statsmodels as sm_flavor

            log_model(FLAVOR_NAME, sm_flavor.log_model, results)
    return results

