"""The one helper for importing optional packages with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from tureen.exceptions import MissingDependencyError

#: import name -> (pip distribution, tureen extra)
_EXTRAS = {
    "sklearn": ("scikit-learn", "sklearn"),
    "skops": ("skops", "sklearn"),
    "torch": ("torch", "pytorch"),
    "lightning": ("lightning", "pytorch"),
    "pytorch_lightning": ("pytorch-lightning", "pytorch"),
    "tensorflow": ("tensorflow-cpu", "tensorflow"),
    "keras": ("keras", "tensorflow"),
    "xgboost": ("xgboost-cpu", "xgboost"),
    "lightgbm": ("lightgbm", "lightgbm"),
    "pyspark": ("pyspark", "spark"),
    "pyarrow": ("pyarrow", "parquet"),
    "PIL": ("pillow", None),
    "psycopg": ("psycopg[binary]", "postgres"),
    "boto3": ("boto3", "s3"),
    "botocore": ("boto3", "s3"),
    "argon2": ("argon2-cffi", "auth"),
    "requests": ("requests", "server"),
}


def import_optional(name: str, purpose: str | None = None) -> ModuleType:
    """Import ``name`` or raise :class:`MissingDependencyError` naming what to install.

    Example:
        >>> import_optional("json").__name__
        'json'
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        top = name.split(".")[0]
        dist, extra = _EXTRAS.get(top) or _declared_by_flavor(top) or (top, None)
        hint = f"pip install 'tureen[{extra}]'" if extra else f"pip install {dist}"
        what = f" for {purpose}" if purpose else ""
        raise MissingDependencyError(f"{name!r} is needed{what} but is not installed ({exc}). "
                                     f"Install it with: {hint}") from exc


def _declared_by_flavor(top: str) -> tuple[str, str | None] | None:
    """(distribution, extra) for a framework some registered flavor declares in its ``packages``."""
    try:
        from tureen.flavors import FLAVORS, get_flavor

        for name in list(FLAVORS):
            try:
                flavor = get_flavor(name)
            except Exception:  # noqa: BLE001 - a broken flavor gives no hint
                continue
            if top in flavor.packages:
                return flavor.packages[top], flavor.extra
    except Exception:  # noqa: BLE001 - the hint never hides the real error
        return None
    return None
