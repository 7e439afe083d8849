"""Lazy package attributes: a name is imported from its module on first use, so importing a package stays cheap."""

from __future__ import annotations

import importlib
from typing import Any, Callable


def lazy_attributes(package: str, names: dict[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each of ``names`` (name -> module) on first use and keeps it in
    the package's ``namespace`` (its ``globals()``), so later lookups skip the hook.

    Example:
        >>> __getattr__ = lazy_attributes(__name__, {"dumps": "json"}, globals())  # doctest: +SKIP
    """

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
