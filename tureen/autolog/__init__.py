"""Autologging: record params, metrics, tags, datasets and the model of ``fit`` calls without logging code.

``tureen.autolog()`` turns it on for every installed framework among scikit-learn, XGBoost, LightGBM,
Keras 3 and PyTorch Lightning. Frameworks are patched when they are imported (this call imports none of
them); ``tureen.autolog(disable=True)`` restores every original function. Each framework can also be
configured on its own with ``tureen.flavors.<flavor>.autolog(...)``; that configuration is kept by later
``tureen.autolog()`` calls. What is recorded matches MLflow 3.x autologging, key for key (``docs/autolog.md``).

Example:
    >>> import tureen  # doctest: +SKIP
    >>> tureen.autolog()  # doctest: +SKIP
    >>> LogisticRegression().fit(X, y)  # a run with params, training metrics and the model  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import types
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["autolog", "INTEGRATIONS"]

#: integration -> (implementation module, modules whose import turns it on, tureen extra)
INTEGRATIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "sklearn": ("tureen.autolog._sklearn", ("sklearn",), "sklearn"),
    "xgboost": ("tureen.autolog._xgboost", ("xgboost",), "xgboost"),
    "lightgbm": ("tureen.autolog._lightgbm", ("lightgbm",), "lightgbm"),
    # both Keras spellings patch keras.Model.fit and hook on keras' import (TensorFlow is imported inside it)
    "tensorflow": ("tureen.autolog._tensorflow", ("keras",), "tensorflow"),
    "keras": ("tureen.autolog._keras", ("keras",), "tensorflow"),
    "pytorch": ("tureen.autolog._lightning", ("lightning", "pytorch_lightning"), "pytorch"),
    "statsmodels": ("tureen.autolog._statsmodels", ("statsmodels",), "statsmodels"),
}
_UNIVERSAL_HOOKS: dict[str, Callable[[Any], None]] = {}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def autolog(log_input_examples: bool = False, log_model_signatures: bool = True, log_models: bool = True,
            log_datasets: bool = True, log_traces: bool = True, disable: bool = False, exclusive: bool = False,
            disable_for_unsupported_versions: bool = False, silent: bool = False,
            extra_tags: dict[str, Any] | None = None, exclude_flavors: list[str] | None = None,
            registered_model_name: str | None = None) -> None:
    """Turn autologging on (or off) for every installed framework.

    Args:
        log_input_examples: save the first 5 training rows as the model's input example.
        log_model_signatures: infer a signature from the training input and the model's output.
        log_models: log the trained model as the run's model ``model``.
        log_datasets: record training/evaluation datasets (name, digest, schema) where the store keeps them.
        log_traces: accepted for MLflow's signature and has no effect: MLflow records GenAI traces with it,
            and tracing is outside tureen's scope.
        disable: restore every patched function and stop autologging everywhere.
        exclusive: never log into runs the user started (such fits run unpatched).
        disable_for_unsupported_versions: leave off frameworks whose version is outside the tested range.
        silent: no warnings from autologging.
        extra_tags: tags added to every run autologging creates.
        exclude_flavors: integrations to leave alone (``"sklearn"``, ``"xgboost"``, ``"lightgbm"``,
            ``"tensorflow"``, ``"keras"``, ``"pytorch"``, ``"statsmodels"``). Keras fits are recorded by
            ``"tensorflow"`` when TensorFlow is installed (MLflow's ``opt_*`` spelling), else by ``"keras"``.
        registered_model_name: register every logged model as a new version of this name (tureen's own,
            after MLflow's parameters: MLflow takes it per flavor only).

    Raises:
        InvalidParameterError: an unknown name in ``exclude_flavors``.

    Example:
        >>> import tureen  # doctest: +SKIP
        >>> tureen.autolog(log_input_examples=True, extra_tags={"team": "churn"})  # doctest: +SKIP
    """
    excluded = set(exclude_flavors or [])
    unknown = excluded - set(INTEGRATIONS)
    if unknown:
        raise InvalidParameterError(f"Unknown flavors in exclude_flavors: {sorted(unknown)}; known: "
                                    f"{', '.join(INTEGRATIONS)}")
    from tureen.autolog import _patch

    args = dict(log_input_examples=log_input_examples, log_model_signatures=log_model_signatures,
                log_models=log_models, log_datasets=log_datasets, disable=disable, exclusive=exclusive,
                disable_for_unsupported_versions=disable_for_unsupported_versions, silent=silent,
                registered_model_name=registered_model_name, extra_tags=extra_tags)
    _patch.remove_hooks(list(_UNIVERSAL_HOOKS.values()))
    _UNIVERSAL_HOOKS.clear()
    for name, (impl, modules, _extra) in INTEGRATIONS.items():
        if disable:
            if any(m in sys.modules for m in modules) or _patch.is_enabled(name):
                importlib.import_module(impl).autolog(disable=True)
            continue
        if name in excluded:
            continue
        if _patch.is_enabled(name) and name in _patch._EXPLICIT:
            continue  # configured explicitly with tureen.flavors.<flavor>.autolog(): keep that
        if not any(_installed(m) for m in modules):
            continue
        if name in _KERAS_SPELLINGS and not _keras_spelling_wanted(name):
            continue
        hook = _make_hook(name, impl, args)
        _UNIVERSAL_HOOKS[name] = hook
        for module in modules:
            _patch.when_imported(module, hook)


#: MLflow's two autologgers of keras.Model.fit; mlflow.autolog() records a fit once, as the TensorFlow one
#: does when TensorFlow is installed, else as the Keras one
_KERAS_SPELLINGS = ("tensorflow", "keras")


def _keras_spelling_wanted(name: str) -> bool:
    from tureen.autolog import _patch

    other = _KERAS_SPELLINGS[1 - _KERAS_SPELLINGS.index(name)]
    if _patch.is_enabled(other) and other in _patch._EXPLICIT:
        return False  # the user turned the other spelling on: it records these fits
    if name == "tensorflow":
        return _installed("tensorflow")
    return "tensorflow" not in _UNIVERSAL_HOOKS


def _make_hook(name: str, impl: str, args: dict[str, Any]) -> Callable[[Any], None]:
    done: list[bool] = []

    def hook(_module: Any) -> None:
        if done:
            return
        done.append(True)
        fn = importlib.import_module(impl).autolog
        accepted = inspect.signature(fn).parameters
        from tureen.autolog import _patch

        with _patch.universal_call():
            fn(**{k: v for k, v in args.items() if k in accepted})

    return hook


class _CallableModule(types.ModuleType):
    """``tureen.autolog`` is this package once any of its submodules was imported (Python binds submodules as
    attributes of their parent); calling it still means :func:`autolog`."""

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        autolog(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
#: ``inspect.signature(tureen.autolog)`` is the function's whether the name is bound to it or to this package
__signature__ = inspect.signature(autolog)
