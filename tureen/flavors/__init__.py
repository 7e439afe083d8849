"""Flavors: one module per framework, found through one table (plus the ``tureen.flavors`` entry points).

Each flavor module defines ``FLAVOR``, an instance of :class:`tureen.flavors._flavor.Flavor` that declares the
flavor's facts (its MLflow ``loader_module``, packages, extra, fork safety, autologger, ...). Everything that
needs a fact about a flavor asks it here (:func:`get_flavor`, :func:`flavor_for_loader`) instead of probing
modules. ``tureen.flavors.sklearn`` etc. are imported lazily on attribute access, and importing a flavor
module never imports its framework.

Third-party flavors plug in through an entry point in the ``tureen.flavors`` group whose value is
``module`` (defining ``FLAVOR``) or ``module:object``; see ``docs/flavors/writing-a-flavor.md``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tureen.flavors._flavor import Flavor

__all__ = ["FLAVORS", "LOADER_MODULES", "get_flavor", "get_flavor_module", "flavor_for_loader",
           "loader_module_for", "flavor_names"]

#: THE table of built-in flavors: flavor name -> import string of the module defining ``FLAVOR``
FLAVORS: dict[str, str] = {
    "sklearn": "tureen.flavors.sklearn",
    "python_function": "tureen.pyfunc.model",
    "pytorch": "tureen.flavors.pytorch",
    "tensorflow": "tureen.flavors.tensorflow",
    "keras": "tureen.flavors.keras",
    "xgboost": "tureen.flavors.xgboost",
    "lightgbm": "tureen.flavors.lightgbm",
    "statsmodels": "tureen.flavors.statsmodels",
    "onnx": "tureen.flavors.onnx",
    "spacy": "tureen.flavors.spacy",
    "spark": "tureen.flavors.spark",
    "fastai": "tureen.flavors.fastai",
}

_ENTRY_POINTS_LOADED = False
_LOADERS: dict[str, str] | None = None


def _load_entry_points() -> None:
    global _ENTRY_POINTS_LOADED, _LOADERS
    if _ENTRY_POINTS_LOADED:
        return
    _ENTRY_POINTS_LOADED = True
    from importlib.metadata import entry_points

    for ep in entry_points(group="tureen.flavors"):
        if ep.name not in FLAVORS:  # a built-in name is never replaced by an installed package
            FLAVORS[ep.name] = ep.value
            _LOADERS = None


def flavor_names() -> list[str]:
    """Every known flavor name: built-ins and installed entry points.

    Example:
        >>> "sklearn" in flavor_names()
        True
    """
    _load_entry_points()
    return sorted(FLAVORS)


def get_flavor_module(name: str) -> ModuleType:
    """The module implementing flavor ``name``.

    Example:
        >>> get_flavor_module("sklearn").FLAVOR_NAME
        'sklearn'
    """
    target = FLAVORS.get(name)
    if target is None:
        _load_entry_points()
        target = FLAVORS.get(name)
    if target is None:
        from tureen.exceptions import InvalidParameterError

        raise InvalidParameterError(f"Unknown flavor {name!r}; known flavors: {', '.join(sorted(FLAVORS))}")
    return importlib.import_module(target.partition(":")[0])


def get_flavor(name: str) -> Flavor:
    """The :class:`~tureen.flavors._flavor.Flavor` registered as ``name`` (its declared facts and methods).

    Example:
        >>> get_flavor("xgboost").fork_safe
        True
    """
    module = get_flavor_module(name)
    target = FLAVORS[name]
    attr = target.partition(":")[2] or "FLAVOR"
    flavor = getattr(module, attr, None)
    from tureen.flavors._flavor import Flavor

    if not isinstance(flavor, Flavor):
        from tureen.exceptions import ModelFormatError

        raise ModelFormatError(f"{target!r} (flavor {name!r}) does not define a tureen Flavor")
    return flavor


def _loaders() -> dict[str, str]:
    """``loader_module`` value -> flavor name, from every flavor's declared ``loader_module``/``also_reads``
    (importing a flavor module is cheap: no framework is imported)."""
    global _LOADERS
    _load_entry_points()
    if _LOADERS is None:
        table: dict[str, str] = {}
        for name, target in list(FLAVORS.items()):
            try:
                flavor = get_flavor(name)
            except Exception:  # noqa: BLE001 - a broken third-party flavor does not break the others
                continue
            for loader in (flavor.loader_module, *flavor.also_reads, target.partition(":")[0]):
                if loader:
                    table.setdefault(loader, flavor.name)
        _LOADERS = table
    return _LOADERS


def flavor_for_loader(loader_module: str) -> Flavor | None:
    """The registered flavor that loads models whose pyfunc ``loader_module`` is ``loader_module``, or None.

    Example:
        >>> flavor_for_loader("mlflow.sklearn").name
        'sklearn'
    """
    name = _loaders().get(loader_module)
    return get_flavor(name) if name is not None else None


def loader_module_for(name: str) -> str:
    """Map an MLmodel ``loader_module`` to the tureen module that loads it (unknown names unchanged).

    Example:
        >>> loader_module_for("mlflow.xgboost")
        'tureen.flavors.xgboost'
    """
    flavor = _loaders().get(name)
    return FLAVORS[flavor].partition(":")[0] if flavor is not None else name


class _LoaderModules(dict):  # type: ignore[type-arg]
    """``LOADER_MODULES`` kept for callers of the former table: computed from the flavors' declared facts."""

    def _table(self) -> dict[str, str]:
        return {loader: FLAVORS[name].partition(":")[0] for loader, name in _loaders().items()}

    def __getitem__(self, key: str) -> str:
        return self._table()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._table().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._table()

    def __iter__(self) -> Any:
        return iter(self._table())

    def items(self) -> Any:
        return self._table().items()


LOADER_MODULES: dict[str, str] = _LoaderModules()


def __getattr__(name: str) -> Any:
    if name in ("ZipLimits", "zip_limits"):  # the archive limits a load can be given (``zip_limits=``)
        from tureen.flavors import _gate

        return getattr(_gate, name)
    if name in FLAVORS and name not in ("python_function",):
        module = importlib.import_module(FLAVORS[name].partition(":")[0])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'tureen.flavors' has no attribute {name!r}")
