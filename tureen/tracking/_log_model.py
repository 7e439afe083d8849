"""The tracking side of every flavor's ``log_model`` (MLflow 3.x semantics).

A flavor calls :func:`log_model` with a ``save_fn(path)`` that writes a complete model directory at a path
that does not exist yet. This function:

1. uses ``run_id`` if given, else the active run, else starts one (left active, as the fluent ``log_*``
   functions do);
2. creates a *logged model* (``m-<hex>``) whose files live at
   ``<experiment artifact location>/models/<model_id>/artifacts`` and links it to the run as an output;
3. calls ``save_fn`` in a temp directory, then fills ``run_id``, ``artifact_path``, ``model_id`` and
   ``model_uuid`` in ``MLmodel`` as MLflow 3.x does;
4. publishes the directory atomically, records its digest, marks the logged model ready and appends the
   model to the run's ``mlflow.log-model.history`` tag;
5. registers it when ``registered_model_name`` is given;

and returns a :class:`~tureen.models.info.ModelInfo` whose ``model_uri`` is ``models:/<model_id>``
(``runs:/<run_id>/<name>`` resolves to the same files). If anything fails, the logged model is marked
``LOGGED_MODEL_UPLOAD_FAILED`` and no partial files remain.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

from tureen.exceptions import InvalidParameterError

__all__ = ["log_model"]


def _validate_name(name: Any) -> str:
    from tureen.tracking._validation import validate_key

    if not isinstance(name, str) or not name:
        raise InvalidParameterError(f"Invalid model name {name!r}: log_model needs a non-empty name, e.g. "
                                    "name='model'")
    validate_key(name, "model name")
    if "/" in name or ":" in name:
        raise InvalidParameterError(f"Invalid model name {name!r}: it must not contain '/' or ':'")
    return name


def log_model(flavor_name: str, save_fn: Callable[[str], Any], *, name: str | None = None,
              artifact_path: str | None = None, registered_model_name: str | None = None,
              await_registration_for: int | None = 300, params: dict[str, Any] | None = None,
              tags: dict[str, Any] | None = None, model_type: str | None = None, step: int = 0,
              run_id: str | None = None, **_ignored: Any) -> Any:
    """Log a model directory written by ``save_fn`` to the active run; see the module docstring.

    Example:
        >>> info = log_model("sklearn", lambda p: my_save(p), name="model")  # doctest: +SKIP
        >>> info.model_uri  # doctest: +SKIP
        'models:/m-…'
    """
    from tureen.artifacts import get_artifact_repository
    from tureen.artifacts._materialize import DIGEST_TAG, directory_digest
    from tureen.flavors._integrity import seal_model_dir
    from tureen.models.info import ModelInfo
    from tureen.models.mlmodel import Model
    from tureen.tracking import fluent
    from tureen.tracking.entities import LoggedModelOutput

    name = _validate_name(name or artifact_path)
    if registered_model_name is not None:
        from tureen.tracking._validation import validate_model_name

        validate_model_name(registered_model_name)
    client = fluent._client()
    if run_id is not None:  # log into a given run without making it active
        run = client.get_run(run_id)
    else:
        run = fluent.active_run() or fluent.start_run()
        run_id = run.info.run_id
    model_params = {**client.get_run(run_id).data.params, **{k: str(v) for k, v in (params or {}).items()}}
    model_tags = {k: v for k, v in fluent._source_tags().items()}
    model_tags.update({k: str(v) for k, v in (tags or {}).items()})
    lm = client.create_logged_model(run.info.experiment_id, name=name, source_run_id=run_id, params=model_params,
                                    tags=model_tags, model_type=model_type or flavor_name)
    fluent._last_logged_model_id = lm.model_id  # for tureen.last_logged_model()
    repo = get_artifact_repository(lm.artifact_location)
    try:
        client.log_outputs(run_id, [LoggedModelOutput(lm.model_id, step)])
        from tureen._tmp import make_temp_dir

        tmp = make_temp_dir(tempfile.gettempdir(), "log-model")
        try:
            local = Path(tmp) / "model"
            save_fn(str(local))
            model = Model.load(local)
            model.run_id = run_id
            model.artifact_path = lm.artifact_location
            model.model_id = lm.model_id
            model.model_uuid = lm.model_id
            # the filled-in MLmodel gets its digests again: they cover it and every file, byte for byte
            seal_model_dir(local, model)
            digest = directory_digest(local)
            if hasattr(repo, "publish_directory"):
                repo.publish_directory(local)
            else:
                repo.log_artifacts(local)
        finally:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        client.set_logged_model_tags(lm.model_id, {DIGEST_TAG: digest})
        client.finalize_logged_model(lm.model_id, "LOGGED_MODEL_READY")
        history_entry = {"run_id": run_id, "artifact_path": name, "utc_time_created": model.utc_time_created,
                         "model_uuid": model.model_uuid, "model_id": lm.model_id, "flavors": model.flavors}
        client._store.record_logged_model(run_id, json.dumps(history_entry, default=str))
    except BaseException:
        try:
            if hasattr(repo, "delete_artifacts"):
                repo.delete_artifacts()
            client.finalize_logged_model(lm.model_id, "LOGGED_MODEL_UPLOAD_FAILED")
        except Exception:  # noqa: BLE001 - report the original failure, not the clean-up's
            pass
        raise
    version = None
    if registered_model_name is not None:
        from tureen.registry._register import register_model

        mv = register_model(f"models:/{lm.model_id}", registered_model_name, client=client)
        version = int(mv.version)
    return ModelInfo.from_model(model, model_uri=f"models:/{lm.model_id}", name=name,
                                registered_model_version=version)
