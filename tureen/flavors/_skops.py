"""Fast import of ``skops.io``.

Importing ``skops.io`` builds its list of trusted scikit-learn estimator names by walking and importing every
scikit-learn module (and, through scikit-learn's array-API shims, torch when it is installed): 1.5-3 s per
process. Only the names matter (``"sklearn.linear_model._logistic.LogisticRegression"``), so we compute them
once per (scikit-learn, skops) version pair, cache them, and on later imports hand skops lightweight stand-in
classes carrying exactly those names. The trusted set skops ends up with is identical.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from types import ModuleType


def _cache_file() -> Path | None:
    try:
        import importlib.metadata as md

        key = f"sklearn-{md.version('scikit-learn')}-skops-{md.version('skops')}"
    except Exception:  # noqa: BLE001 - no metadata: just import normally
        return None
    base = os.environ.get("TUREEN_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tureen")
    return Path(base) / f"skops-trusted-{key}.json"


def import_skops_io() -> ModuleType:
    """``skops.io``, imported with the cached estimator names when available."""
    if "skops.io" in sys.modules:
        return sys.modules["skops.io"]
    from tureen._optional import import_optional

    import_optional("skops", "the skops format")
    cache = _cache_file()
    names = None
    if cache is not None and cache.exists():
        try:
            names = json.loads(cache.read_text())
        except (OSError, ValueError):
            names = None
    if not isinstance(names, list):
        import skops.io as sio
        from skops.io import _trusted_types

        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=".skops-")
                with os.fdopen(fd, "w") as f:
                    json.dump(list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES), f)
                os.replace(tmp, cache)
            except OSError:
                pass
        return sio
    import sklearn.utils

    stand_ins = []
    for full in names:
        module, _, name = full.rpartition(".")
        stand_ins.append((name, type(name, (), {"__module__": module})))
    original = sklearn.utils.all_estimators
    sklearn.utils.all_estimators = lambda *args, **kwargs: list(stand_ins)  # type: ignore[assignment]
    try:
        import skops.io as sio
    finally:
        sklearn.utils.all_estimators = original  # type: ignore[assignment]
    return sio
