"""THE model-URI resolver: any model URI -> a local directory.

Serving, docker, pyfunc and the CLI resolve URIs only through :func:`resolve_model_uri`.

Schemes are pluggable by import string so that a scheme's dependencies (sqlalchemy for ``runs:/`` and
``models:/``) load only when a URI of that scheme is used:

* a plain path or ``file://`` URI: the directory itself;
* ``runs:/<run_id>/<path>`` and ``models:/<name>/<version|stage|latest>``, ``models:/<name>@<alias>``:
  resolved by the tracking and registry packages (see ``_SCHEMES``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Callable
from urllib.parse import unquote, urlparse

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

__all__ = ["resolve_model_uri", "register_scheme", "split_scheme"]

# scheme -> "module:function"; function(uri: str) -> Path (a local directory holding an MLmodel)
_SCHEMES: dict[str, str] = {
    "runs": "tureen.tracking._uri:resolve_runs_uri",
    "models": "tureen.registry._uri:resolve_models_uri",
}


def register_scheme(scheme: str, target: str | Callable[[str], Path]) -> None:
    """Teach the resolver a new URI scheme.

    Example:
        >>> register_scheme("demo", lambda uri: Path("/tmp"))
    """
    _SCHEMES[scheme] = target  # type: ignore[assignment]


def split_scheme(uri: str) -> tuple[str, str]:
    """Return ``(scheme, rest)``; a plain path has the scheme ``""``.

    Example:
        >>> split_scheme("models:/churn/1")
        ('models', '/churn/1')
    """
    if len(uri) > 1 and uri[1] == ":" and uri[0].isalpha():  # a Windows drive letter, not a scheme
        return "", uri
    head, sep, rest = uri.partition(":")
    if sep and head and head.replace("+", "").replace("-", "").replace(".", "").isalnum() and "/" not in head:
        return head.lower(), rest
    return "", uri


def _local_path(uri: str) -> Path:
    scheme, _ = split_scheme(uri)
    if scheme == "file":
        parsed = urlparse(uri)
        if parsed.netloc not in ("", "localhost"):
            raise InvalidParameterError(f"file URI {uri!r} names host {parsed.netloc!r}; only local files "
                                        "can be read")
        return Path(unquote(parsed.path))
    return Path(uri).expanduser()


def resolve_model_uri(uri: str | os.PathLike[str]) -> Path:
    """Resolve a model URI to an existing local directory.

    Raises:
        InvalidParameterError: the URI is empty or its scheme is unknown.
        ResourceNotFoundError: nothing exists at the URI.

    Example:
        >>> resolve_model_uri("/tmp")  # doctest: +SKIP
        PosixPath('/tmp')
    """
    if isinstance(uri, os.PathLike):
        uri = os.fspath(uri)
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterError(f"A model URI must be a non-empty string, got {uri!r}")
    scheme, _ = split_scheme(uri)
    if scheme in ("", "file"):
        path = _local_path(uri)
        try:
            path.stat()
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte, a loop of links...
            raise InvalidParameterError(f"Invalid model path {uri[:200]!r}: {getattr(exc, 'strerror', None) or exc}"
                                        ) from None
        if not path.exists():
            raise ResourceNotFoundError(f"No model at {uri!r}: the path {str(path)!r} does not exist")
        if not path.is_dir():
            raise ResourceNotFoundError(f"No model at {uri!r}: {str(path)!r} is a file, not a model directory")
        return path.resolve()
    target = _SCHEMES.get(scheme)
    if target is None:
        known = ", ".join(sorted(["file", *_SCHEMES]))
        raise InvalidParameterError(f"Unsupported model URI scheme {scheme!r} in {uri!r}; "
                                    f"supported: local paths, {known}")
    if isinstance(target, str):
        module_name, _, func_name = target.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:  # the part that serves this scheme is not available
            raise InvalidParameterError(f"URIs of scheme {scheme!r} cannot be resolved: {exc}") from exc
        func = getattr(module, func_name)
    else:
        func = target
    return Path(func(uri))
