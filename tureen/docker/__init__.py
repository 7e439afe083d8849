"""Container images that serve a model: a Docker build context, and the image built from it.

* :func:`generate_dockerfile` writes an editable build context (``Dockerfile`` + the model + requirements);
* :func:`build_image` writes one into a temporary directory and builds it on the Docker engine.

The image runs ``tureen serve /opt/ml/model`` (gunicorn) on ``0.0.0.0:8080`` as a non-root user, with a
``HEALTHCHECK`` on ``/ready``; every ``TUREEN_SERVING_*`` variable passed at ``docker run`` reaches the
server. Only tureen's core and serving dependencies and the model's ``requirements.txt`` are installed, in a
layer before the model files, so a new model version rebuilds in seconds.

This package imports nothing heavy: the engine is reached through the ``docker`` command line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from tureen.docker._context import (MODEL_DIR_IN_IMAGE, PORT, ContextInfo, default_base_image,
                                    is_generated_context, parse_key_values, write_context)
from tureen.docker._engine import check_base_image, check_engine, check_image_name
from tureen.exceptions import InvalidParameterError

__all__ = ["generate_dockerfile", "build_image", "default_base_image", "check_image_name", "BuildResult",
           "MODEL_DIR_IN_IMAGE", "PORT"]


def _resolve(model_uri: str | os.PathLike[str], verified_only: bool | None = None) -> Path:
    """The model's local directory, checked against its digests before anything is copied into an image
    (an unverified model is refused when ``verified_only`` or ``TUREEN_VERIFIED_ONLY`` says so)."""
    from tureen.flavors._integrity import verify_model_dir
    from tureen.uri import resolve_model_uri

    path = resolve_model_uri(model_uri)
    if not (path / "MLmodel").is_file():
        from tureen.exceptions import ModelFormatError

        raise ModelFormatError(f"{str(model_uri)!r} resolves to {str(path)!r}, which holds no MLmodel file")
    verify_model_dir(path, verified_only=verified_only)
    return path


def _image_env(env: Mapping[str, str] | Iterable[str] | None, verified_only: bool | None) -> Mapping[str, str] | Iterable[str] | None:
    """The image's environment: the caller's, plus ``TUREEN_VERIFIED_ONLY=true`` when only verified models
    were allowed here, so the container holds the same rule."""
    from tureen.flavors._integrity import require_verified

    if not require_verified(verified_only):
        return env
    if env is None:
        return {"TUREEN_VERIFIED_ONLY": "true"}
    if isinstance(env, Mapping):
        return {**env, "TUREEN_VERIFIED_ONLY": "true"}
    return [*env, "TUREEN_VERIFIED_ONLY=true"]


def generate_dockerfile(model_uri: str | os.PathLike[str], output_dir: str | os.PathLike[str], *,
                        base_image: str | None = None, install_tureen: str = "auto",
                        extra_ca_certs: Sequence[str | os.PathLike[str]] = (),
                        pip_index_url: str | None = None, pip_extra_index_urls: Sequence[str] = (),
                        env: Mapping[str, str] | Iterable[str] | None = None,
                        verified_only: bool | None = None) -> Path:
    """Write a Docker build context that serves the model into ``output_dir``; return its ``Dockerfile``.

    The directory is written next to its target and renamed into place, so a failure leaves nothing behind.
    An existing ``output_dir`` is replaced only if it is empty or a context tureen generated earlier.

    Args:
        model_uri: any model URI (path, ``file://``, ``runs:/``, ``models:/``).
        output_dir: the directory to create.
        base_image: the ``FROM`` image; default ``python:X.Y-slim`` for the Python the model was saved with.
            Any image with Python >= 3.10 and its ``venv`` module works (e.g. a CUDA image with Python).
        install_tureen: ``auto`` (``wheel`` when tureen runs from a source checkout, else ``index``),
            ``wheel`` (build a wheel of the running checkout into the context), ``index`` (``tureen==<this
            version>`` from the package index), a path to a tureen ``.whl``, or a pip requirement
            (``"tureen==0.1.0"``).
        extra_ca_certs: PEM CA certificates trusted inside the image (corporate or intercepting proxies).
        pip_index_url: ``PIP_INDEX_URL`` while building (not kept in the image's environment).
        pip_extra_index_urls: ``PIP_EXTRA_INDEX_URL`` entries while building.
        env: ``KEY=VALUE`` environment variables baked into the image (e.g. ``TUREEN_SERVING_WORKERS=4``).
        verified_only: refuse a model without digests (default ``TUREEN_VERIFIED_ONLY``); when set, the
            image also gets ``TUREEN_VERIFIED_ONLY=true``. A model whose files do not match its digests is
            always refused.

    Raises:
        ResourceNotFoundError: the URI does not resolve.
        ModelFormatError: the model has no MLmodel or no python_function flavor.
        InvalidParameterError: a bad option (certificate path, URL, env entry, output directory).

    Example:
        >>> dockerfile = generate_dockerfile("models:/churn/Production", "build/")  # doctest: +SKIP
        >>> dockerfile.name  # doctest: +SKIP
        'Dockerfile'
    """
    model_dir = _resolve(model_uri, verified_only)
    env = _image_env(env, verified_only)
    out = Path(output_dir).expanduser().absolute()
    if out.exists():
        if not out.is_dir():
            raise InvalidParameterError(f"The output directory {str(out)!r} exists and is not a directory")
        if any(out.iterdir()) and not is_generated_context(out):
            raise InvalidParameterError(f"The output directory {str(out)!r} is not empty and holds no context "
                                        "tureen generated; choose a new or empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        write_context(model_dir, tmp, model_label=str(model_uri), base_image=base_image,
                      install_tureen=install_tureen, extra_ca_certs=extra_ca_certs, pip_index_url=pip_index_url,
                      pip_extra_index_urls=pip_extra_index_urls, env=env)
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "Dockerfile"


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build_image` built.

    Attributes:
        name: the image reference it was tagged with.
        image_id: the engine's image id.
        base_image: the ``FROM`` image.
        python_version: the base image's Python version.
        install_tureen: how tureen was installed (``wheel``, a path, or a pip requirement).
    """

    name: str
    image_id: str
    base_image: str
    python_version: str
    install_tureen: str


def build_image(model_uri: str | os.PathLike[str], name: str, *, base_image: str | None = None,
                install_tureen: str = "auto", extra_ca_certs: Sequence[str | os.PathLike[str]] = (),
                pip_index_url: str | None = None, pip_extra_index_urls: Sequence[str] = (),
                env: Mapping[str, str] | Iterable[str] | None = None,
                build_args: Mapping[str, str] | Iterable[str] | None = None, platform: str | None = None,
                no_cache: bool = False, log: Callable[[str], None] | None = print,
                verified_only: bool | None = None) -> BuildResult:
    """Build a Docker image named ``name`` that serves the model on port 8080.

    Checks run before anything is built: the image name, the model URI, the options, that a Docker engine
    answers, and that the base image has Python >= 3.10 with ``venv``. The build log is streamed line by line
    to ``log`` (``None`` silences it). The image is tagged only if every step succeeds.

    Args:
        model_uri: any model URI (path, ``file://``, ``runs:/``, ``models:/``).
        name: the image reference, e.g. ``churn:3``.
        base_image, install_tureen, extra_ca_certs, pip_index_url, pip_extra_index_urls, env, verified_only: as for
            :func:`generate_dockerfile`.
        build_args: ``--build-arg`` values (``KEY=VALUE`` strings or a mapping).
        platform: target platform, e.g. ``linux/amd64``.
        no_cache: build without Docker's layer cache.
        log: called with each line of the build log.

    Raises:
        ContainerEngineError: no Docker engine is reachable (the message says how to start one), or the base
            image cannot be pulled.
        InvalidParameterError: bad name or option, or a base image without a suitable Python.
        ImageBuildError: a build step failed; the message names the step and quotes pip's errors.

    Example:
        >>> build_image("models:/churn/Production", "churn:3")  # doctest: +SKIP
        BuildResult(name='churn:3', ...)
    """
    name = check_image_name(name)
    args = parse_key_values(build_args, "--build-arg")
    model_dir = _resolve(model_uri, verified_only)
    env = _image_env(env, verified_only)
    check_engine()
    base_name = (base_image or "").strip() or default_base_image(model_dir)
    base = check_base_image(base_name, platform=platform)
    with tempfile.TemporaryDirectory(prefix="tureen-docker-") as tmp:
        context = Path(tmp) / "context"
        info: ContextInfo = write_context(model_dir, context, model_label=str(model_uri), base_image=base_name,
                                          install_tureen=install_tureen, extra_ca_certs=extra_ca_certs,
                                          pip_index_url=pip_index_url, pip_extra_index_urls=pip_extra_index_urls,
                                          env=env, target_python=base.python_version)
        if log is not None:
            log(f"tureen: building {name} from {info.base_image} (Python {base.python_version}), "
                f"tureen installed from {info.install_tureen}")
        from tureen.docker._engine import build

        image_id = build(context, name, build_args=args, platform=platform, no_cache=no_cache, log=log)
    return BuildResult(name=name, image_id=image_id, base_image=info.base_image,
                       python_version=base.python_version, install_tureen=info.install_tureen)
