"""Figures, images and tables as run artifacts: the work behind ``log_figure``, ``log_image`` and
``log_table``/``load_table`` (fluent and client), laid out as MLflow lays them out so its UI and
``mlflow.load_table`` read what tureen writes, and the other way round.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import time
import uuid
from pathlib import PurePosixPath
from typing import Any

from tureen.exceptions import InvalidParameterError, ResourceNotFoundError

__all__ = ["figure_bytes", "image_to_pil", "log_image", "log_table", "load_table"]

LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
LOGGED_IMAGES_TAG = "mlflow.loggedImages"


def _kind(obj: Any) -> str:
    module = type(obj).__module__ or ""
    return module.split(".")[0]


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: dict[str, Any] | None = None) -> bytes:
    """The file bytes of a matplotlib or plotly figure, in the format ``artifact_file``'s extension names.

    Raises:
        InvalidParameterError: not a matplotlib or plotly figure.
    """
    kwargs = dict(save_kwargs or {})
    kind = _kind(figure)
    suffix = PurePosixPath(artifact_file).suffix.lower() or ".png"
    if kind == "matplotlib":
        buffer = io.BytesIO()
        kwargs.setdefault("format", suffix.lstrip("."))
        figure.savefig(buffer, **kwargs)
        return buffer.getvalue()
    if kind == "plotly":
        if suffix == ".html":
            kwargs.setdefault("include_plotlyjs", "cdn")
            kwargs.setdefault("auto_open", False)
            with tempfile.TemporaryDirectory(prefix="tureen-figure-") as tmp:
                path = os.path.join(tmp, "figure.html")
                figure.write_html(path, **kwargs)
                with open(path, "rb") as f:
                    return f.read()
        return figure.to_image(format=suffix.lstrip("."), **kwargs)
    raise InvalidParameterError(f"log_figure takes a matplotlib or plotly figure, got "
                                f"{type(figure).__module__}.{type(figure).__qualname__}")


def image_to_pil(image: Any) -> Any:
    """A PIL image from a PIL image or a numpy array (H×W, H×W×1, H×W×3 or H×W×4; integers in 0-255,
    floats and booleans in 0-1), with MLflow's checks.

    Raises:
        InvalidParameterError: another type, shape, dtype or a value out of range.
    """
    from tureen._optional import import_optional

    Image = import_optional("PIL.Image", "logging images")
    if isinstance(image, Image.Image):
        return image
    import numpy as np

    if not isinstance(image, np.ndarray):
        raise InvalidParameterError(f"log_image takes a numpy array or a PIL image, got {type(image).__name__}")
    if image.dtype.kind not in "biuf":
        raise InvalidParameterError(f"Invalid array data type {image.dtype}: use bool, integers or floats")
    if image.ndim not in (2, 3):
        raise InvalidParameterError(f"An image array must be 2- or 3-dimensional, got shape {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise InvalidParameterError(f"An image array's last dimension must be 1, 3 or 4 channels, got "
                                    f"{image.shape[2]}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    is_int = image.dtype.kind in "iu"
    if image.size:
        low, high = float(image.min()), float(image.max())
        limit = 255 if is_int else 1
        if low < 0 or high > limit:
            raise InvalidParameterError(f"{'Integer' if is_int else 'Float'} pixel values out of the range "
                                        f"[0, {limit}]: min {low}, max {high}")
    if not is_int:
        image = image * 255
    return Image.fromarray(image.astype(np.uint8))


def _png(image: Any, fmt: str = "png") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def log_image(client: Any, run_id: str, image: Any, artifact_file: str | None, key: str | None,
              step: int | None, timestamp: int | None) -> None:
    """``artifact_file``: one image file. ``key``: one step of an image series, as MLflow writes it:
    ``images/<key>%step%<step>%timestamp%<ms>%<uuid>.png`` plus a small ``%compressed.webp`` copy, and the
    run tag ``mlflow.loggedImages``."""
    if (artifact_file is None) == (key is None):
        raise InvalidParameterError("log_image needs exactly one of artifact_file and key")
    pil = image_to_pil(image)
    repo = client._writable_repo(run_id)
    if artifact_file is not None:
        fmt = (PurePosixPath(artifact_file).suffix.lstrip(".") or "png").upper()
        fmt = {"JPG": "JPEG"}.get(fmt, fmt)
        if fmt == "JPEG" and pil.mode in ("RGBA", "LA", "P"):
            pil = pil.convert("RGB")
        repo.log_bytes(_png(pil, fmt), artifact_file)
        return
    from tureen.tracking._validation import validate_key

    validate_key(key, "image key")
    step = int(step or 0)
    timestamp = int(timestamp if timestamp is not None else time.time() * 1000)
    sanitized = re.sub(r"/", "#", str(key))
    base = f"images/{sanitized}%step%{step}%timestamp%{timestamp}%{uuid.uuid4()}"
    repo.log_bytes(_png(pil), f"{base}.png")
    small = pil.copy()
    small.thumbnail((256, 256))
    if small.mode not in ("RGB", "RGBA"):
        small = small.convert("RGBA")
    repo.log_bytes(_png(small, "webp"), f"{base}%compressed.webp")
    client.set_tag(run_id, LOGGED_IMAGES_TAG, "true")


def _table_frame(data: Any) -> Any:
    import pandas as pd

    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, pd.DataFrame):
        return data
    raise InvalidParameterError(f"log_table takes a dict of columns or a pandas DataFrame, got {type(data).__name__}")


def log_table(client: Any, run_id: str, data: Any, artifact_file: str) -> None:
    """Write ``data`` as ``{"columns": [...], "data": [[...]]}`` JSON (pandas' ``split`` form without the
    index), appended to the rows already in ``artifact_file``; list it in the run tag ``mlflow.loggedArtifacts``."""
    import pandas as pd

    if not isinstance(artifact_file, str) or not artifact_file.endswith(".json"):
        raise InvalidParameterError(f"log_table's artifact_file must end in .json, got {artifact_file!r}")
    frame = _table_frame(data)
    repo = client._writable_repo(run_id)
    with tempfile.TemporaryDirectory(prefix="tureen-table-") as tmp:
        try:
            existing_path = repo.download_artifacts(artifact_file, tmp)
        except Exception:  # noqa: BLE001 - no such artifact yet: nothing to append to
            existing_path = None
        if existing_path and os.path.isfile(existing_path):
            with open(existing_path) as f:
                existing = pd.read_json(io.StringIO(f.read()), orient="split")
            frame = pd.concat([existing, frame], ignore_index=True)
    body = frame.to_json(orient="split", index=False, date_format="iso")
    repo.log_bytes(body.encode(), artifact_file)
    run = client.get_run(run_id)
    try:
        listed = json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG) or "[]")
    except ValueError:
        listed = []
    entry = {"path": artifact_file, "type": "table"}
    if entry not in listed:
        listed.append(entry)
        client.set_tag(run_id, LOGGED_ARTIFACTS_TAG, json.dumps(listed))


def load_table(client: Any, experiment_id: str, artifact_file: str, run_ids: list[str] | None,
               extra_columns: list[str] | None) -> Any:
    """The rows of ``artifact_file`` over the runs (``run_ids``, or every run of the experiment that logged
    it), one DataFrame; ``extra_columns`` such as ``["run_id"]`` add run fields per row.

    Raises:
        ResourceNotFoundError: no run has the table.
    """
    import pandas as pd

    if run_ids is None:
        run_ids = []
        token = None
        while True:
            page = client.search_runs([experiment_id], "", 1, 1000, None, token)
            for run in page:
                try:
                    listed = json.loads(run.data.tags.get(LOGGED_ARTIFACTS_TAG) or "[]")
                except ValueError:
                    listed = []
                if {"path": artifact_file, "type": "table"} in listed:
                    run_ids.append(run.info.run_id)
            token = page.token
            if not token:
                break
    frames = []
    with tempfile.TemporaryDirectory(prefix="tureen-table-") as tmp:
        for i, run_id in enumerate(run_ids):
            try:
                path = client.download_artifacts(run_id, artifact_file, os.path.join(tmp, str(i)))
            except Exception:  # noqa: BLE001 - this run has no such table
                continue
            with open(path) as f:
                frame = pd.read_json(io.StringIO(f.read()), orient="split")
            for column in extra_columns or []:
                if column != "run_id":
                    raise InvalidParameterError(f"load_table's extra_columns supports 'run_id', got {column!r}")
                frame[column] = run_id
            frames.append(frame)
    if not frames:
        raise ResourceNotFoundError(f"No runs found with the table artifact {artifact_file!r}")
    return pd.concat(frames, ignore_index=True)
